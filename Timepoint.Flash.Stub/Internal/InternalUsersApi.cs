using Microsoft.AspNetCore.Http.HttpResults;
using Timepoint.Flash.Stub.Storage;

namespace Timepoint.Flash.Stub.Internal;

/// <summary>System calls from other services (identity's account deletion and export), behind flash's X-Service-Key.</summary>
public static class InternalUsersApi
{
    public static WebApplication MapInternalUsersApi(this WebApplication app)
    {
        var internalUsers = app.MapGroup("/internal/users").RequireServiceKey();

        // Idempotent: deleting a user with no timepoints (or already deleted) is still 204.
        internalUsers.MapDelete("/{userId:guid}", async Task<NoContent> (Guid userId, TimepointStore store, CancellationToken cancellationToken) =>
        {
            await store.DeleteAllOfAsync(userId, cancellationToken);
            return TypedResults.NoContent();
        });

        // Everything flash holds about a user, for identity's account export: every timepoint, newest first.
        internalUsers.MapGet("/{userId:guid}/export", async Task<Ok<UserTimepointsExport>> (Guid userId, TimepointStore store, CancellationToken cancellationToken) =>
            TypedResults.Ok(new UserTimepointsExport((await store.ListAsync(userId, int.MaxValue, 0, cancellationToken)).Items)));

        return app;
    }
}

public sealed record UserTimepointsExport(IReadOnlyList<Timepoints.TimepointDocument> Timepoints);
