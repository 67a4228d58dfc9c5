using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using Timepoint.Identity.Auth;
using Timepoint.Identity.Data;
using Timepoint.Identity.Sessions;
using Timepoint.Identity.Users;

namespace Timepoint.Identity.Admin;

/// <summary>
/// Operator actions behind identity's X-Admin-Key, called by the AppHost's dashboard commands; never routed from outside
/// (the edge refuses /internal/**). Every action is logged with the user it touched.
/// </summary>
public static class AdminApi
{
    public static WebApplication MapAdminApi(this WebApplication app)
    {
        var admin = app.MapGroup("/internal/identity/admin").RequireAdminKey();
        admin.MapPost("/users/{userId:guid}/sessions/revoke", RevokeSessions);
        admin.MapPost("/demo/reset", ResetDemo);
        return app;
    }

    /// <summary>
    /// Revokes every refresh token and authorization of the user: no new access token can be had from them, and the access
    /// tokens already issued are refused at every gateway replica within seconds (the revoked-session list).
    /// </summary>
    private static async Task<Results<Ok<RevokeSessionsResponse>, ProblemHttpResult>> RevokeSessions(Guid userId, IdentityDbContext db,
        SessionRevocations sessions, ILoggerFactory loggers, CancellationToken ct)
    {
        if (!await db.Users.AnyAsync(u => u.Id == userId, ct))
        {
            return Problems.NotFound("No such user.");
        }

        var (revokedTokens, revokedAuthorizations) = await sessions.RevokeUserAsync(userId, RevocationReasons.RevokeAll, ct);
        loggers.CreateLogger(typeof(AdminApi)).LogInformation(
            "Admin revoked all sessions of user {UserId}: {Tokens} tokens, {Authorizations} authorizations",
            userId, revokedTokens, revokedAuthorizations);
        return TypedResults.Ok(new RevokeSessionsResponse(userId, revokedTokens, revokedAuthorizations));
    }

    /// <summary>
    /// Deletes every demo user the way an account deletion does it (sessions and API keys revoked, credits and timepoints
    /// removed through the outbox); each next demo sign-in creates a fresh demo user with the signup bonus and nothing else.
    /// </summary>
    private static async Task<Ok<ResetDemoResponse>> ResetDemo(DemoUsers demoUsers, ILoggerFactory loggers, CancellationToken ct)
    {
        const int batchSize = 100;
        List<Guid> deleted = [], batch;
        do
        {
            batch = await demoUsers.DeleteAsync(createdBefore: null, batchSize, ct);
            deleted.AddRange(batch);
        }
        while (batch.Count == batchSize);

        loggers.CreateLogger(typeof(AdminApi)).LogInformation("Admin reset the demo data: deleted {Count} demo users", deleted.Count);
        return TypedResults.Ok(new ResetDemoResponse(deleted));
    }

    public sealed record RevokeSessionsResponse(Guid UserId, long RevokedTokens, long RevokedAuthorizations);

    public sealed record ResetDemoResponse(List<Guid> DeletedUserIds);
}
