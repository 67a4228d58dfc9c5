using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Timepoint.Pro.Stub.Simulations;

/// <summary>
/// Pro Cloud simulations (docs/contract.md#5-backends), for gateway users. The stub runs a job to completion before answering,
/// so <c>POST /api/v1/simulate</c> is 200 with the finished job; its owner can read it back by id.
/// </summary>
public static class SimulationsApi
{
    public static WebApplication MapSimulationsApi(this WebApplication app)
    {
        var api = app.MapGroup("/api/v1").RequireGatewayUser();
        api.MapPost("/simulate", Simulate).RequireGatewayCharge() // work the edge charged for: only under its signed reservation
            .WithName("Simulate").WithSummary("Runs a Pro Cloud simulation and answers the finished job.").ProducesProblems(400);
        api.MapGet("/simulations/{jobId:guid}", Get).WithName("GetSimulation").WithSummary("One of the caller's simulations.");
        return app;
    }

    private static Results<Ok<Simulation>, ProblemHttpResult> Simulate(
        SimulateRequest request, ClaimsPrincipal user, SimulationStore store, TimeProvider clock)
    {
        var (input, errors) = request.Validate();
        if (input is null)
        {
            return Problems.Validation("The simulation request is not valid.", errors);
        }

        var simulation = new Simulation(Guid.NewGuid(), "completed", input.Template, input.Mode, input.Fidelity, input.Prompt,
            clock.GetUtcNow(), Simulator.Run(input));
        store.Add(OwnerOf(user), simulation);
        return TypedResults.Ok(simulation);
    }

    private static Results<Ok<Simulation>, ProblemHttpResult> Get(Guid jobId, ClaimsPrincipal user, SimulationStore store) =>
        store.Find(jobId, OwnerOf(user)) is { } simulation
            ? TypedResults.Ok(simulation)
            : Problems.NotFound("No such simulation.");

    private static Guid OwnerOf(ClaimsPrincipal user) =>
        user.GetUserId() ?? throw new InvalidOperationException("The endpoint requires a gateway user.");
}
