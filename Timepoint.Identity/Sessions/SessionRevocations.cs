using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using Timepoint.Identity.Data;
using Timepoint.Identity.Tokens;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Timepoint.Identity.Sessions;

public static class RevocationReasons
{
    public const string Logout = "logout";
    public const string RevokeAll = "revoke_all";
    public const string RefreshReuse = "refresh_reuse";
    public const string Disabled = "disabled";
    public const string Deleted = "deleted";
}

/// <summary>
/// Ends sessions: the session's refresh tokens and authorization are revoked (no new access token), and the session is
/// written to <c>session_revocations</c>, the versioned list every gateway replica reads (GET
/// /internal/identity/sessions/revoked), so access tokens already issued are refused at the edge within seconds instead of
/// living out their 15 minutes. The list is written first: if it cannot be, nothing is revoked and the caller sees the error.
/// </summary>
public sealed class SessionRevocations(
    IdentityDbContext db,
    IOpenIddictTokenManager tokens,
    IOpenIddictAuthorizationManager authorizations,
    IOptions<TokenOptions> options,
    TimeProvider clock,
    ILogger<SessionRevocations> logger)
{
    /// <summary>How long a revoked session stays listed: the access tokens' lifetime and a margin for the edge's clock skew.</summary>
    public TimeSpan Retention => options.Value.AccessTokenLifetime + TimeSpan.FromMinutes(1);

    /// <summary>Ends one session of the user (logout, a refresh token reused); false when the user has no such session.</summary>
    public async Task<bool> RevokeSessionAsync(Guid userId, string sessionId, string reason, CancellationToken ct)
    {
        if (await authorizations.FindByIdAsync(sessionId, ct) is not { } authorization
            || await authorizations.GetSubjectAsync(authorization, ct) != userId.ToString())
        {
            return false;
        }

        await RecordAsync(userId, [sessionId], reason, ct);
        await tokens.RevokeByAuthorizationIdAsync(sessionId, ct);
        await authorizations.TryRevokeAsync(authorization, ct);
        logger.LogInformation("Revoked session {SessionId} of user {UserId} ({Reason})", sessionId, userId, reason);
        return true;
    }

    /// <summary>Ends every session of the user (revoke-all, disabled, deleted); returns what was revoked.</summary>
    public async Task<(long Tokens, long Authorizations)> RevokeUserAsync(Guid userId, string reason, CancellationToken ct)
    {
        var subject = userId.ToString();
        List<string> sessions = [];
        await foreach (var authorization in authorizations.FindBySubjectAsync(subject, ct))
        {
            if (await authorizations.HasStatusAsync(authorization, Statuses.Valid, ct) && await authorizations.GetIdAsync(authorization, ct) is { } id)
            {
                sessions.Add(id);
            }
        }

        await RecordAsync(userId, sessions, reason, ct);
        var revokedTokens = await tokens.RevokeBySubjectAsync(subject, ct);
        var revokedAuthorizations = await authorizations.RevokeBySubjectAsync(subject, ct);
        logger.LogInformation("Revoked {Sessions} sessions of user {UserId} ({Reason})", sessions.Count, userId, reason);
        return (revokedTokens, revokedAuthorizations);
    }

    /// <summary>
    /// The sessions still listed, revoked at or after <paramref name="since"/> (all when null), and the tiers set at or after
    /// it within <see cref="Retention"/>: an access token or a cached API-key verdict older than that carries no stale tier.
    /// </summary>
    public async Task<RevokedSessions> ListAsync(DateTimeOffset? since, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var query = db.SessionRevocations.AsNoTracking().Where(r => r.ExpiresAt > now);
        var tierFrom = now - Retention;
        if (since is { } from)
        {
            query = query.Where(r => r.RevokedAt >= from);
            tierFrom = from > tierFrom ? from : tierFrom;
        }

        var rows = await query.OrderBy(r => r.RevokedAt).Select(r => new RevokedSession(r.SessionId, r.ExpiresAt)).ToListAsync(ct);
        var tiers = await db.Users.AsNoTracking().Where(u => u.TierChangedAt >= tierFrom).OrderBy(u => u.TierChangedAt)
            .Select(u => new TierChange(u.Id, u.Tier, u.TierChangedAt!.Value + Retention)).ToListAsync(ct);
        // The next read starts a while back: a revocation committed late (its transaction began earlier) or written by a
        // replica whose clock lags is read again rather than missed. Reading one twice is harmless.
        return new RevokedSessions(now - CursorOverlap, rows, tiers);
    }

    /// <summary>Deletes the rows whose sessions can no longer hold a valid access token.</summary>
    public Task<int> PruneAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        return db.SessionRevocations.Where(r => r.ExpiresAt <= now).ExecuteDeleteAsync(ct);
    }

    public static readonly TimeSpan CursorOverlap = TimeSpan.FromSeconds(30);

    private async Task RecordAsync(Guid userId, IReadOnlyCollection<string> sessions, string reason, CancellationToken ct)
    {
        if (sessions.Count == 0)
        {
            return;
        }

        var now = clock.GetUtcNow();
        var expires = now + Retention;
        var ids = sessions.ToArray();
        // Revoked again (a logout, then a revoke-all): listed again, for the longer of the two.
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO session_revocations ("SessionId", "UserId", "Reason", "RevokedAt", "ExpiresAt")
            SELECT s, {userId}, {reason}, {now}, {expires} FROM unnest({ids}) AS s
            ON CONFLICT ("SessionId") DO UPDATE
              SET "RevokedAt" = EXCLUDED."RevokedAt", "ExpiresAt" = GREATEST(session_revocations."ExpiresAt", EXCLUDED."ExpiresAt")
            """, ct);
    }
}

public sealed record RevokedSession(string Session, DateTimeOffset ExpiresAt);

/// <summary>A user's tier as an operator set it; the edge applies it instead of the token's claim until <paramref name="ExpiresAt"/>.</summary>
public sealed record TierChange(Guid UserId, string Tier, DateTimeOffset ExpiresAt);

public sealed record RevokedSessions(DateTimeOffset Cursor, List<RevokedSession> Revocations, List<TierChange> Tiers);
