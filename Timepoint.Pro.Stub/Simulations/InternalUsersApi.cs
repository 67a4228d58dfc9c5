using Microsoft.AspNetCore.Http.HttpResults;

namespace Timepoint.Pro.Stub.Simulations;

/// <summary>System calls from identity (account deletion and export), behind pro's X-Service-Key.</summary>
public static class InternalUsersApi
{
    public static WebApplication MapInternalUsersApi(this WebApplication app)
    {
        var internalUsers = app.MapGroup("/internal/users").RequireServiceKey();

        // Idempotent: deleting a user with no jobs (or already deleted) is still 204.
        internalUsers.MapDelete("/{userId:guid}", NoContent (Guid userId, SimulationStore store) =>
        {
            store.DeleteAllOf(userId);
            return TypedResults.NoContent();
        });

        // Everything pro holds about a user, for identity's account export: the jobs it still keeps.
        internalUsers.MapGet("/{userId:guid}/export", Ok<UserSimulationsExport> (Guid userId, SimulationStore store) =>
            TypedResults.Ok(new UserSimulationsExport(store.AllOf(userId))));

        return app;
    }
}

public sealed record UserSimulationsExport(IReadOnlyList<Simulation> Simulations);
