using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Refit;

namespace Timepoint.Gateway.Auth;

/// <summary>Identity's list of revoked sessions (GET /internal/identity/sessions/revoked, identity's X-Service-Key).</summary>
public interface IIdentitySessionsApi
{
    [Get("/internal/identity/sessions/revoked")]
    Task<RevokedSessions> RevokedAsync([Query] string? since, CancellationToken cancellationToken);
}

public sealed record RevokedSession(string Session, DateTimeOffset ExpiresAt);

public sealed record RevokedSessions(DateTimeOffset Cursor, List<RevokedSession> Revocations);

/// <summary>
/// The sessions whose access tokens the edge refuses before they expire (logout, revoke-all, disabled or deleted users, a
/// reused refresh token): read from identity, whose table is the source of truth, every
/// <see cref="RevocationOptions.PollInterval"/> (only what changed since the last read). Redis plays no part, so a
/// restarted or emptied Redis loses nothing and a replica that missed a message has nothing to miss.
/// <para>
/// A replica that has never read the list refuses every access token (503, and unhealthy) rather than let a revoked one
/// in: a restart cannot let a deleted or disabled user back. Once read, the list keeps serving while identity is away
/// (identity is also what revokes, so nothing new can be revoked meanwhile); the staleness is a health degradation, a
/// metric and a log line. Memory: one entry per session revoked within the access-token lifetime (15 min) plus a minute;
/// each goes when its tokens would have expired anyway. Capped by <see cref="RevocationOptions.MaxSessions"/> (500,000,
/// about 75 MB): a list that would hold more fails closed, like one never read. Nothing is dropped (a dropped revocation
/// would let its tokens in); the answer is not applied, the cursor stays, no access token is accepted (503, unhealthy)
/// and each poll tries again until enough entries have expired.
/// </para>
/// </summary>
public sealed class SessionRevocationList(IIdentitySessionsApi identity, IOptions<GatewayOptions> options, TimeProvider clock,
    GatewayMetrics metrics, ILogger<SessionRevocationList> logger) : BackgroundService, IHealthCheck
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> revoked = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource firstRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool loaded;
    private volatile bool overflowing;
    private string? cursor;
    private DateTimeOffset lastRead = DateTimeOffset.MinValue;

    /// <summary>Whether the list has been read at least once: until then no access token is accepted.</summary>
    public bool Loaded => loaded;

    /// <summary>Identity's list was larger than <see cref="RevocationOptions.MaxSessions"/> at the last read: no access token is accepted.</summary>
    public bool Overflowing => overflowing;

    /// <summary>
    /// Whether the list has been read (waiting briefly for the first read, for a replica that has just started) and holds
    /// every revocation (not <see cref="Overflowing"/>): only then may an access token be accepted.
    /// </summary>
    public async ValueTask<bool> WaitLoadedAsync(CancellationToken ct)
    {
        if (!loaded)
        {
            await Task.WhenAny(firstRead.Task, Task.Delay(TimeSpan.FromSeconds(3), ct));
        }

        return loaded && !overflowing;
    }

    public int Count => revoked.Count;

    /// <summary>The hot path: one dictionary look-up (nothing at all while the list is empty).</summary>
    public bool IsRevoked(string? session) => session is not null && !revoked.IsEmpty && revoked.ContainsKey(session);

    /// <summary>Reads what changed since the last read; false when identity could not be read.</summary>
    public async Task<bool> SyncAsync(CancellationToken ct)
    {
        try
        {
            var answer = await identity.RevokedAsync(cursor, ct);
            Prune();
            var now = clock.GetUtcNow();
            var adding = answer.Revocations.Where(r => r.ExpiresAt > now).Select(r => r.Session).Distinct(StringComparer.Ordinal)
                .Count(session => !revoked.ContainsKey(session));
            if (revoked.Count + adding > options.Value.Revocations.MaxSessions)
            {
                overflowing = true;
                logger.LogError("Identity lists {Count} revoked sessions, more than Gateway:Revocations:MaxSessions ({Max}); " +
                    "refusing access tokens until enough have expired", revoked.Count + adding, options.Value.Revocations.MaxSessions);
                return false;
            }

            overflowing = false;
            foreach (var revocation in answer.Revocations.Where(r => r.ExpiresAt > now))
            {
                revoked.AddOrUpdate(revocation.Session, revocation.ExpiresAt,
                    (_, known) => known > revocation.ExpiresAt ? known : revocation.ExpiresAt);
            }

            cursor = answer.Cursor.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            Prune();
            lastRead = clock.GetUtcNow();
            if (!loaded)
            {
                loaded = true;
                firstRead.TrySetResult();
                logger.LogInformation("Read {Count} revoked sessions from identity", revoked.Count);
            }

            return true;
        }
        // Any failure (refused, timed out, circuit open, a bad answer) leaves the list as it was: never a reason to stop.
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            metrics.RevocationSyncFailed();
            logger.LogWarning("Could not read revoked sessions from identity ({Error}); {State}", ex.Message,
                loaded ? $"serving the list read at {lastRead:O}" : "refusing access tokens until it is read");
            return false;
        }
    }

    /// <summary>Drops the sessions whose access tokens have all expired.</summary>
    public void Prune()
    {
        var now = clock.GetUtcNow();
        foreach (var (session, expiresAt) in revoked)
        {
            if (expiresAt <= now)
            {
                revoked.TryRemove(new KeyValuePair<string, DateTimeOffset>(session, expiresAt));
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        metrics.ObserveRevokedSessions(() => revoked.Count);
        while (!stoppingToken.IsCancellationRequested)
        {
            await SyncAsync(stoppingToken);
            await Task.Delay(loaded ? options.Value.Revocations.PollInterval : TimeSpan.FromMilliseconds(500), clock, stoppingToken);
        }
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!await WaitLoadedAsync(cancellationToken))
        {
            return HealthCheckResult.Unhealthy(overflowing
                ? "More revoked sessions than Gateway:Revocations:MaxSessions: access tokens are refused."
                : "Revoked sessions not read from identity yet: access tokens are refused.");
        }

        var age = clock.GetUtcNow() - lastRead;
        return age > options.Value.Revocations.StaleAfter
            ? HealthCheckResult.Degraded($"Revoked sessions last read {age.TotalSeconds:0} s ago: revocations since then are not seen here.")
            : HealthCheckResult.Healthy();
    }
}
