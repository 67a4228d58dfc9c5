using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using Timepoint.Identity.Auth;
using Timepoint.Identity.Data;
using Timepoint.Identity.Downstream;
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
        admin.MapGet("/outbox", OutboxStatus);
        admin.MapPost("/outbox/retry", RetryDeadLetters);
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

    /// <summary>The outbox's backlog and its dead letters (the oldest 100), for an operator deciding whether to retry.</summary>
    private static async Task<Ok<OutboxStatusResponse>> OutboxStatus(IdentityDbContext db, OutboxMonitor monitor, CancellationToken ct)
    {
        var backlog = await monitor.ReadAsync(db, ct);
        var dead = await db.Outbox.AsNoTracking().Where(m => m.DeadAt != null).OrderBy(m => m.CreatedAt).Take(100)
            .Select(m => new DeadLetter(m.Id, m.Kind, m.UserId, m.Attempts, m.LastError, m.CreatedAt, m.DeadAt!.Value)).ToListAsync(ct);
        return TypedResults.Ok(new OutboxStatusResponse(backlog.Pending, backlog.Dead, backlog.OldestCreatedAt, dead));
    }

    /// <summary>Every dead letter is tried again at once, with a fresh set of attempts (the dashboard's Retry outbox dead letters).</summary>
    private static async Task<Ok<RetryDeadLettersResponse>> RetryDeadLetters(IdentityDbContext db, OutboxMonitor monitor, Outbox outbox,
        ILoggerFactory loggers, CancellationToken ct)
    {
        var retried = await monitor.RetryDeadLettersAsync(db, ct);
        outbox.Signal();
        loggers.CreateLogger(typeof(AdminApi)).LogInformation("Admin retried {Count} outbox dead letters", retried);
        return TypedResults.Ok(new RetryDeadLettersResponse(retried));
    }

    public sealed record OutboxStatusResponse(int Pending, int Dead, DateTimeOffset? OldestCreatedAt, List<DeadLetter> DeadLetters);

    public sealed record DeadLetter(Guid Id, string Kind, Guid UserId, int Attempts, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset DeadAt);

    public sealed record RetryDeadLettersResponse(int Retried);

    public sealed record RevokeSessionsResponse(Guid UserId, long RevokedTokens, long RevokedAuthorizations);

    public sealed record ResetDemoResponse(List<Guid> DeletedUserIds);
}
