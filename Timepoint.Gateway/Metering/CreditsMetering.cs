using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Timeouts;
using Refit;
using Timepoint.Gateway.Auth;
using Timepoint.Gateway.Proxy;
using Timepoint.Gateway.Routing;

namespace Timepoint.Gateway.Metering;

/// <summary>Credits' internal API (X-Service-Key of credits); see Timepoint.Credits/README.md.</summary>
public interface ICreditsMeteringApi
{
    [Post("/internal/credits/reserve")]
    Task<IApiResponse<Reservation>> ReserveAsync([Body] ReserveRequest request, CancellationToken cancellationToken);

    [Post("/internal/credits/reservations/settle")]
    Task<IApiResponse<SettleManyResponse>> SettleManyAsync([Body] SettleManyRequest request, CancellationToken cancellationToken);

    [Post("/internal/credits/reservations/{id}/refund")]
    Task<IApiResponse> RefundAsync(Guid id, [Body] RefundRequest request, CancellationToken cancellationToken);
}

public sealed record ReserveRequest(Guid UserId, string Operation, string IdempotencyKey, string RequestFingerprint);

public sealed record Reservation(Guid ReservationId, string Operation, long Charged, long BalanceAfter, string Status, bool Replayed);

public sealed record RefundRequest(string Reason);

/// <summary>
/// Metered routes (docs/contract.md#4-credits): reserve the cost before forwarding, let the charge stand on the backend's 2xx,
/// refund it exactly once on anything else (5xx, timeout, a backend that cut the connection, or a stream the backend ended
/// before <c>done</c>). A client that goes away once the call is forwarded changes nothing: the backend's answer decides. With an
/// Idempotency-Key a retry is not charged again: it gets the first outcome, or 409 while the first is in flight.
/// </summary>
public sealed partial class CreditsMetering(ICreditsMeteringApi credits, CreditsSettlement settlement, IdempotentOutcomes outcomes,
    ILogger<CreditsMetering> logger)
{
    public const int MaxIdempotencyKeyLength = 255;
    private const int MaxMeteredBody = 1024 * 1024;
    private static readonly HashSet<string> Presets = ["balanced", "hd", "hyper", "gemini3"];

    /// <summary>A call on a metered route (<see cref="RoutePolicy.MeteredOperation"/>): reserve, forward, settle or refund.</summary>
    public async Task ForwardAsync(EdgeRequest edge, Func<Task> next)
    {
        var context = edge.Context;
        var route = edge.Route;
        var caller = edge.Caller!;
        var body = await ReadBodyAsync(context);
        if (body is null)
        {
            await edge.RefuseAsync(Problems.Create(StatusCodes.Status413PayloadTooLarge, ErrorCodes.ValidationFailed,
                "Payload too large", $"A metered request body may be at most {MaxMeteredBody} bytes."));
            return;
        }

        // Text no backend can keep is refused before anything is reserved (and before pricing reads the preset).
        var (operation, invalid) = TextInput.FindInvalidJsonField(body) is { } field
            ? (null, TextInput.Problem(field))
            : route.MeteredOperation == "generate" ? GenerateOperation(body) : (route.MeteredOperation, null);
        if (invalid is not null)
        {
            await edge.RefuseAsync(invalid);
            return;
        }

        var clientKey = context.Request.Headers["Idempotency-Key"].ToString();
        if (clientKey.Length > MaxIdempotencyKeyLength)
        {
            await edge.RefuseAsync(Problems.Validation("Idempotency-Key", $"Idempotency-Key may be at most {MaxIdempotencyKeyLength} characters."));
            return;
        }

        // Without a client key the edge still names the reservation, so its own retries to credits never charge twice.
        // A client's key goes to credits as its digest: any key up to the limit fits credits' own, prefix included.
        var idempotencyKey = clientKey.Length > 0
            ? "client:" + IdempotentOutcomes.Digest(clientKey)
            : "edge:" + Guid.NewGuid().ToString("N");
        var fingerprint = Fingerprint(context.Request, body);
        var clientGone = context.RequestAborted; // read now: the context may be torn down once the client is gone
        IApiResponse<Reservation> reserved;
        try
        {
            // Not cancelled with the client: credits may commit the debit whatever the edge does, so the edge waits for
            // the answer (bounded by the client timeout) and gives the credits back at once if the client has gone.
            reserved = await credits.ReserveAsync(new ReserveRequest(caller.UserId, operation!, idempotencyKey, fingerprint), CancellationToken.None);
        }
        // Refused, timed out or circuit open: refuse the call (fail closed), nothing forwarded. A debit credits committed
        // after the edge stopped waiting stays open and is refunded by credits' reconciler.
        catch (Exception ex)
        {
            logger.LogWarning("Credits unreachable for {Operation}: {Error}", operation, ex.Message);
            if (!clientGone.IsCancellationRequested)
            {
                await Unavailable(edge);
            }

            return;
        }

        if (!reserved.IsSuccessStatusCode)
        {
            await RelayRefusal(edge, reserved);
            return;
        }

        var reservation = reserved.Content!;
        if (clientGone.IsCancellationRequested)
        {
            if (!reservation.Replayed)
            {
                await FinishAsync(reservation, succeeded: false, "client went away before the call was forwarded");
            }

            return;
        }

        if (reservation.Replayed && clientKey.Length > 0)
        {
            await ReplayAsync(edge, caller, clientKey, reservation);
            return;
        }

        edge.Reserved(reservation.ReservationId, reservation.Charged);
        context.Response.OnStarting(() =>
        {
            // A failure is refunded once the forward ends; the headers already tell the client where it will stand.
            var stands = context.Response.StatusCode is >= 200 and < 300;
            context.Response.Headers["X-Credits-Charged"] = (stands ? reservation.Charged : 0).ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["X-Balance-After"] = (stands ? reservation.BalanceAfter : reservation.BalanceAfter + reservation.Charged)
                .ToString(CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        });

        // The charge follows the work the backend did, not whether the client stayed: the forward is cancelled by the
        // route's timeout (and YARP's idle timeout), never by a client leaving, and once the client is gone its answer is
        // read to its end and discarded. A stream is then settled by what the backend sent (done or not).
        var watch = new OutcomeStream(context.Response.Body, route.Streaming, capture: clientKey.Length > 0, clientGone);
        var lifetime = context.Features.Get<IHttpRequestLifetimeFeature>();
        context.Response.Body = watch;
        context.Features.Set<IHttpRequestLifetimeFeature>(new UpstreamLifetime(lifetime,
            context.Features.Get<IHttpRequestTimeoutFeature>()?.RequestTimeoutToken ?? CancellationToken.None));
        try
        {
            await next();
        }
        finally
        {
            context.Features.Set(lifetime);
            context.Response.Body = watch.Inner;
        }

        var forwardFailed = context.Features.Get<Yarp.ReverseProxy.Forwarder.IForwarderErrorFeature>() is not null;
        var succeeded = !forwardFailed && context.Response.StatusCode is >= 200 and < 300 && (!route.Streaming || watch.SawDone);
        // Kept before the reservation is settled or refunded: a retry that finds it finished then finds its answer too.
        // A stream is kept only when it reached done: a broken one cannot be replayed as it was (the client saw the
        // connection fail), and its refund is what a retry is told about (ReplayAsync).
        try
        {
            if (clientKey.Length > 0 && (!route.Streaming || succeeded) && watch.Captured is { } captured)
            {
                await outcomes.StoreAsync(caller.UserId, clientKey, new StoredOutcome(context.Response.StatusCode, context.Response.ContentType,
                    captured, succeeded ? reservation.Charged : 0, succeeded ? reservation.BalanceAfter : reservation.BalanceAfter + reservation.Charged));
            }
        }
        finally
        {
            // Whatever happened to the kept answer, the charge stands or is refunded now.
            await FinishAsync(reservation, succeeded, forwardFailed ? "upstream failure" : $"status {context.Response.StatusCode}");
        }
    }

    /// <summary>
    /// What the forwarder sees as the request's lifetime on a metered call: aborted by the route's timeout only (YARP
    /// cancels the upstream call when RequestAborted fires). Abort still reaches the client's connection, so a response
    /// the backend cut off is cut off for the client too.
    /// </summary>
    private sealed class UpstreamLifetime(IHttpRequestLifetimeFeature? client, CancellationToken bound) : IHttpRequestLifetimeFeature
    {
        public CancellationToken RequestAborted { get; set; } = bound;

        public void Abort() => client?.Abort();
    }

    private async Task FinishAsync(Reservation reservation, bool succeeded, string reason)
    {
        // Settle and refund are idempotent at credits: retried by the resilience handler, never doubled. A reservation
        // left open (credits down) is refunded by credits' reconciler.
        var action = succeeded ? "settle" : "refund";
        try
        {
            if (succeeded)
            {
                var status = await settlement.SettleAsync(reservation.ReservationId);
                if (status != "settled")
                {
                    logger.LogError("Credits answered {Status} to settle of reservation {Reservation}", status, reservation.ReservationId);
                }

                return;
            }

            var answer = await credits.RefundAsync(reservation.ReservationId, new RefundRequest(reason), CancellationToken.None);
            if (!answer.IsSuccessStatusCode)
            {
                logger.LogError("Credits answered {Status} to refund of reservation {Reservation}", answer.StatusCode, reservation.ReservationId);
            }
        }
        catch (Exception ex)
        {
            logger.LogError("Could not {Action} reservation {Reservation}: {Error}", action, reservation.ReservationId, ex.Message);
        }
    }

    private async Task ReplayAsync(EdgeRequest edge, Caller caller, string clientKey, Reservation reservation)
    {
        var context = edge.Context;
        if (reservation.Status == "reserved")
        {
            await edge.RefuseAsync(Problems.Create(StatusCodes.Status409Conflict, ErrorCodes.Conflict, "Request in progress",
                "A request with this Idempotency-Key is still being processed."));
            return;
        }

        var stored = await outcomes.GetAsync(caller.UserId, clientKey);
        if (stored is null)
        {
            // Finished, but its answer was not kept (a broken stream, an answer over 256 KB, a client gone before the
            // forward, Redis unavailable): say how it ended, so the client knows whether a new key would pay twice.
            context.Response.Headers["X-Credits-Charged"] = "0";
            await edge.RefuseAsync(Problems.Create(StatusCodes.Status409Conflict, ErrorCodes.Conflict, "Request already finished",
                reservation.Status == "settled"
                    ? "A request with this Idempotency-Key has already completed and was charged; its answer was not kept (or cannot be read right now), so it cannot be replayed."
                    : "A request with this Idempotency-Key has already failed and its credits were refunded; send a new key to try again."));
            return;
        }

        context.Response.StatusCode = stored.Status;
        context.Response.ContentType = stored.ContentType;
        context.Response.Headers["X-Credits-Charged"] = "0";
        context.Response.Headers["X-Balance-After"] = stored.BalanceAfter.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["Idempotent-Replayed"] = "true";
        await context.Response.Body.WriteAsync(stored.Body);
    }

    private static async Task RelayRefusal(EdgeRequest edge, IApiResponse<Reservation> refused)
    {
        if (refused.StatusCode is HttpStatusCode.PaymentRequired or HttpStatusCode.UnprocessableEntity or HttpStatusCode.Conflict
            && (refused.Error as ApiException)?.Content is { Length: > 0 } content)
        {
            // Credits' own problem (credits_required / credits_available, or why the key was refused).
            await edge.RefuseAsync((int)refused.StatusCode, CodeOf(content, (int)refused.StatusCode), response =>
            {
                response.ContentType = "application/problem+json";
                return response.WriteAsync(content);
            });
            return;
        }

        await Unavailable(edge);
    }

    /// <summary>The <c>code</c> of a problem credits wrote, for the request log; the status's code if it names none.</summary>
    private static string CodeOf(string problem, int status)
    {
        try
        {
            using var document = JsonDocument.Parse(problem);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("code", out var code)
                && code.ValueKind == JsonValueKind.String)
            {
                return code.GetString()!;
            }
        }
        catch (JsonException)
        {
        }

        return ErrorCodes.ForStatus(status);
    }

    private static Task Unavailable(EdgeRequest edge) =>
        edge.RefuseAsync(Problems.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.UpstreamUnavailable,
            "Service unavailable", "Credits cannot be charged right now; nothing was charged. Try again shortly."));

    private static (string?, Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult?) GenerateOperation(byte[] body)
    {
        // Priced the way flash reads it (ASP.NET's web JSON binding): the property name in any case, the value trimmed and
        // in any case, null for the default. A body that names the preset twice could be read either way: refused.
        var preset = "balanced";
        try
        {
            using var document = JsonDocument.Parse(body.Length == 0 ? "{}"u8.ToArray() : body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                var named = document.RootElement.EnumerateObject().Where(p => p.Name.Equals("preset", StringComparison.OrdinalIgnoreCase)).ToList();
                if (named.Count > 1)
                {
                    return (null, Problems.Validation("preset", "preset is given more than once."));
                }

                if (named is [{ Value: var value }] && value.ValueKind != JsonValueKind.Null)
                {
                    if (value.ValueKind != JsonValueKind.String)
                    {
                        return (null, Problems.Validation("preset", "preset must be a string."));
                    }

                    preset = value.GetString()!.Trim().ToLowerInvariant();
                }
            }
        }
        catch (JsonException)
        {
            return (null, Problems.Create(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, "Malformed JSON", "The body is not valid JSON."));
        }

        return Presets.Contains(preset)
            ? ("generate_" + preset, null)
            : (null, Problems.Validation("preset", $"Unknown preset '{preset}'; use one of: {string.Join(", ", Presets.Order())}."));
    }

    /// <summary>Reads the (bounded) body for pricing and fingerprinting, and leaves it readable for the proxy.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxMeteredBody)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxMeteredBody)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        var bytes = buffer.ToArray();
        context.Request.Body = new MemoryStream(bytes);
        context.Request.ContentLength = bytes.Length;
        return bytes;
    }

    private static string Fingerprint(HttpRequest request, byte[] body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}{request.QueryString}\n"));
        hash.AppendData(body);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
