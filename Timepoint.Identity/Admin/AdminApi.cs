using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
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
    /// <summary>The login the demo sign-in resolves (provider "demo", subject "demo").</summary>
    public const string DemoProvider = "demo";
    public const string DemoSubject = "demo";

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
    /// Puts the demo account back to a first sign-in: the demo user is deleted the way an account deletion does it (sessions
    /// and API keys revoked, credits and timepoints removed through the outbox), and the next demo sign-in creates a fresh
    /// demo user with the signup bonus and nothing else.
    /// </summary>
    private static async Task<Ok<ResetDemoResponse>> ResetDemo(IdentityDbContext db, UserAccounts users, ILoggerFactory loggers,
        CancellationToken ct)
    {
        var logger = loggers.CreateLogger(typeof(AdminApi));
        var userId = await db.ExternalLogins
            .Where(l => l.Provider == DemoProvider && l.Subject == DemoSubject)
            .Select(l => (Guid?)l.UserId)
            .FirstOrDefaultAsync(ct);
        var user = userId is { } id ? await users.FindAsync(id, ct) : null;
        if (user is null)
        {
            logger.LogInformation("Admin reset the demo data: there was no demo user");
            return TypedResults.Ok(new ResetDemoResponse(null));
        }

        await users.DeleteAsync(user, ct);
        logger.LogInformation("Admin reset the demo data: deleted demo user {UserId}", user.Id);
        return TypedResults.Ok(new ResetDemoResponse(user.Id));
    }

    public sealed record RevokeSessionsResponse(Guid UserId, long RevokedTokens, long RevokedAuthorizations);

    public sealed record ResetDemoResponse(Guid? DeletedUserId);
}
