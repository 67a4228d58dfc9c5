using System.Runtime.CompilerServices;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Timepoint.Flash.Stub.FailureInjection;
using Timepoint.Flash.Stub.Storage;

namespace Timepoint.Flash.Stub.Timepoints;

/// <summary>
/// Flash's timepoint routes (docs/contract.md#5-backends). Every route needs a gateway-signed user, except DELETE, which also
/// takes this service's X-Admin-Key to delete anyone's. Sync generation answers 200 with the stored timepoint.
/// </summary>
public static class TimepointsApi
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;

    public static WebApplication MapTimepointsApi(this WebApplication app)
    {
        var timepoints = app.MapGroup("/api/v1/timepoints");

        var users = timepoints.MapGroup("").RequireGatewayUser();

        // Generation is work the edge charged for: only under its signed reservation.
        var generate = users.MapGroup("/generate").RequireGatewayCharge();
        generate.MapPost("/sync", GenerateSync).WithName("GenerateTimepointSync").WithSummary("Generates a timepoint and answers it once stored.").ProducesProblems(400, 500);
        generate.MapPost("", GenerateAsync).WithName("GenerateTimepoint").WithSummary("Starts generating a timepoint: 202, poll GET /api/v1/timepoints/{id} until completed.").ProducesProblems(400, 500);
        generate.MapPost("/stream", GenerateStream).WithName("GenerateTimepointStream").WithSummary("Generates a timepoint as a text/event-stream of StreamEvent: start, step_complete..., done.").ProducesProblems(400, 500);
        users.MapGet("/", List).WithName("ListTimepoints").WithSummary("The caller's timepoints, newest first (limit 1..100, offset).");
        users.MapGet("/{id:guid}", Get).WithName("GetTimepoint").WithSummary("One timepoint: the caller's own, or a public one.");
        users.MapGet("/{id:guid}/image.png", Image).WithName("GetTimepointImage").WithSummary("A completed timepoint's image (PNG).").Produces(StatusCodes.Status200OK, contentType: "image/png");
        users.ProducesProblems(404, 422);

        timepoints.MapGroup("").AddEndpointFilter(AdminKey.OrGatewayUser)
            .WithMetadata(new CallerCredentials(ServiceOpenApi.Bearer, ServiceOpenApi.ApiKey, ServiceOpenApi.AdminKey))
            .MapDelete("/{id:guid}", Delete).WithName("DeleteTimepoint").WithSummary("Deletes one of the caller's timepoints (any, with flash's X-Admin-Key).").ProducesProblems(401, 403);

        // The contract's /api/v1/users/me/timepoints: the gateway routes it here.
        app.MapGroup("/api/v1/users/me").RequireGatewayUser()
            .MapGet("/timepoints", List).WithName("ListMyTimepoints").WithSummary("The caller's timepoints, newest first (limit 1..100, offset).");

        return app;
    }

    private static async Task<Results<Ok<TimepointDocument>, ProblemHttpResult>> GenerateSync(
        GenerateRequest request, ClaimsPrincipal user, HttpContext context,
        TimepointGenerator generator, TimepointStore store, FailureInjector failures, TimeProvider clock)
    {
        var (input, errors) = request.Validate();
        if (input is null)
        {
            return Problems.Validation("The generate request is not valid.", errors);
        }

        if (await failures.BeforeGenerateAsync(context, failures.ModeFor(context)) is { } failure)
        {
            return failure;
        }

        var timepoint = generator.Complete(Guid.NewGuid(), input, clock.GetUtcNow());
        await store.InsertAsync(user.RequiredUserId(), timepoint, context.RequestAborted);
        return TypedResults.Ok(timepoint);
    }

    private static async Task<Results<Accepted<GenerationAccepted>, ProblemHttpResult>> GenerateAsync(
        GenerateRequest request, ClaimsPrincipal user, HttpContext context,
        TimepointGenerator generator, TimepointStore store, AsyncGenerationQueue queue, FailureInjector failures)
    {
        var (input, errors) = request.Validate();
        if (input is null)
        {
            return Problems.Validation("The generate request is not valid.", errors);
        }

        if (await failures.BeforeGenerateAsync(context, failures.ModeFor(context)) is { } failure)
        {
            return failure;
        }

        var pending = generator.Pending(Guid.NewGuid(), input);
        await store.InsertAsync(user.RequiredUserId(), pending, context.RequestAborted);
        queue.Enqueue(pending);
        return TypedResults.Accepted($"/api/v1/timepoints/{pending.Id}",
            new GenerationAccepted(pending.Id, TimepointStatus.Processing, "Generation started; poll the timepoint until its status is completed."));
    }

    private static async Task<Results<ServerSentEventsResult<StreamEvent>, ProblemHttpResult>> GenerateStream(
        GenerateRequest request, ClaimsPrincipal user, HttpContext context,
        TimepointGenerator generator, TimepointStore store, FailureInjector failures, IOptions<GenerationOptions> options, TimeProvider clock)
    {
        var (input, errors) = request.Validate();
        if (input is null)
        {
            return Problems.Validation("The generate request is not valid.", errors);
        }

        var mode = failures.ModeFor(context);
        if (await failures.BeforeGenerateAsync(context, mode) is { } failure)
        {
            return failure;
        }

        var timepoint = generator.Complete(Guid.NewGuid(), input, clock.GetUtcNow());
        return TypedResults.ServerSentEvents(StreamEvents(timepoint, user.RequiredUserId(), mode == FailureModes.BreakStream,
            context, store, TimeSpan.FromMilliseconds(options.Value.StepDelayMilliseconds), clock, context.RequestAborted));
    }

    /// <summary>start, one step_complete per pipeline step, then done once the timepoint is stored.</summary>
    private static async IAsyncEnumerable<StreamEvent> StreamEvents(TimepointDocument timepoint, Guid ownerId, bool breakMidway,
        HttpContext context, TimepointStore store, TimeSpan stepDelay, TimeProvider clock,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var steps = TimepointGenerator.Steps;
        yield return new StreamEvent("start", null, new { TimepointId = timepoint.Id, timepoint.Query, Preset = timepoint.PresetUsed }, 0, null);
        for (var i = 0; i < steps.Length; i++)
        {
            await Task.Delay(stepDelay, clock, cancellationToken);
            if (breakMidway && i == 3)
            {
                // Injected break_stream: the connection dies mid-generation, before done, with nothing stored.
                context.Abort();
                yield break;
            }

            yield return new StreamEvent("step_complete", steps[i], StepData(steps[i], timepoint), (i + 1) * 100 / (steps.Length + 1), null);
        }

        await store.InsertAsync(ownerId, timepoint, cancellationToken);
        yield return new StreamEvent("done", null, new { TimepointId = timepoint.Id, Timepoint = timepoint }, 100, null);
    }

    private static object StepData(string step, TimepointDocument t) => step switch
    {
        "Judge" => new { Valid = true, t.Query },
        "Timeline" => new { t.Year, t.Month, t.Day, t.Season, t.TimeOfDay, t.Era },
        "Grounding" => new { t.Location },
        "Scene" => new { t.Scene },
        "Characters" => new { t.Characters },
        "Dialog" => new { t.Dialog },
        "ImagePrompt" => new { t.ImagePrompt },
        "ImageGen" => new { t.HasImage, t.ImageUrl },
        _ => new { Ok = true },
    };

    private static async Task<Results<Ok<TimepointPage>, ProblemHttpResult>> List(
        int? limit, int? offset, ClaimsPrincipal user, TimepointStore store, CancellationToken cancellationToken)
    {
        var take = limit ?? DefaultLimit;
        var skip = offset ?? 0;
        if (take is < 1 or > MaxLimit)
        {
            return Problems.Validation("limit", $"limit must be between 1 and {MaxLimit}.");
        }

        if (skip < 0)
        {
            return Problems.Validation("offset", "offset must be 0 or more.");
        }

        return TypedResults.Ok(await store.ListAsync(user.RequiredUserId(), take, skip, cancellationToken));
    }

    private static async Task<Results<Ok<TimepointDocument>, ProblemHttpResult>> Get(
        Guid id, ClaimsPrincipal user, TimepointStore store, CancellationToken cancellationToken) =>
        await store.FindVisibleAsync(id, user.RequiredUserId(), cancellationToken) is { } timepoint
            ? TypedResults.Ok(timepoint)
            : Problems.NotFound("No such timepoint."); // a private one of someone else's is not there, as far as the caller knows

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> Image(
        Guid id, ClaimsPrincipal user, TimepointStore store, CancellationToken cancellationToken) =>
        await store.FindVisibleAsync(id, user.RequiredUserId(), cancellationToken) is { HasImage: true, Status: TimepointStatus.Completed } timepoint
            ? TypedResults.File(SceneImage.Render(timepoint.Query), "image/png")
            : Problems.NotFound("No such image.");

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        Guid id, ClaimsPrincipal user, HttpContext context, TimepointStore store, CancellationToken cancellationToken)
    {
        // The filter let through either a valid admin key (any owner) or a gateway user (their own only).
        var ownerId = AdminKey.IsPresented(context) ? (Guid?)null : user.RequiredUserId();
        return await store.DeleteAsync(id, ownerId, cancellationToken)
            ? TypedResults.NoContent()
            : Problems.NotFound("No such timepoint.");
    }

    private static Guid RequiredUserId(this ClaimsPrincipal user) =>
        user.GetUserId() ?? throw new InvalidOperationException("The endpoint requires a gateway user.");
}
