using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Timepoint.Identity.Data;
using Timepoint.ServiceDefaults;

namespace Timepoint.Identity.ApiKeys;

/// <summary>
/// A user's API keys. Keys are looked up by the SHA-256 of the whole key, so an unknown key and a wrong secret are the
/// same miss. Revocations reach the gateways through <see cref="ApiKeyRevocationInterceptor"/> when the change commits.
/// </summary>
public sealed class ApiKeyStore(
    IdentityDbContext db,
    ApiKeyUsage usage,
    ApiKeyMetrics metrics,
    IOptions<ApiKeyOptions> options,
    TimeProvider clock)
{
    public enum Outcome
    {
        Done,
        NotFound,
        Disabled,
        LimitReached,
        NotActive,
    }

    public async Task<(Outcome Outcome, CreatedApiKey? Key)> CreateAsync(
        Guid userId, string name, string[] scopes, DateTimeOffset? expiresAt, KeyLimits limits, CancellationToken ct)
    {
        var now = Now();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);

        // The user's row lock makes concurrent creates count one after the other, and a deleted user gets no key.
        var user = (await db.Users.FromSql($"SELECT * FROM users WHERE \"Id\" = {userId} FOR UPDATE").AsNoTracking().ToListAsync(ct))
            .FirstOrDefault();
        if (user is null)
        {
            return (Outcome.NotFound, null);
        }

        if (user.Disabled)
        {
            return (Outcome.Disabled, null);
        }

        if (await WorkingKeysAsync(userId, now, ct) >= options.Value.MaxActivePerUser)
        {
            return (Outcome.LimitReached, null);
        }

        var (key, secret) = NewKey(userId, name, scopes, expiresAt, now);
        limits.ApplyTo(key);
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return (Outcome.Done, new CreatedApiKey(key.Id, key.Name, secret, key.Prefix, key.Scopes, key.CreatedAt, key.ExpiresAt,
            key.RateLimitPerMinute, ApiKeyView.LimitOf(key)));
    }

    /// <summary>
    /// Changes an active key's limits (the members given); the edge drops its cached verdict at once (the interceptor
    /// publishes the change), so the next request runs under them. Another user's key is not found.
    /// </summary>
    public async Task<(Outcome Outcome, ApiKeyView? Key)> ChangeLimitsAsync(Guid userId, Guid keyId, KeyLimits limits, CancellationToken ct)
    {
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == keyId && k.UserId == userId, ct);
        if (key is null)
        {
            return (Outcome.NotFound, null);
        }

        if (key.RevokedAt is not null || key.ValidUntil is not null || key.ExpiresAt <= Now())
        {
            return (Outcome.NotActive, null);
        }

        limits.ApplyTo(key);
        await db.SaveChangesAsync(ct);
        return (Outcome.Done, ApiKeyView.From(key));
    }

    /// <summary>The caller's key, or null when it is unknown or another user's.</summary>
    public Task<ApiKey?> FindAsync(Guid userId, Guid keyId, CancellationToken ct) =>
        db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Id == keyId && k.UserId == userId, ct);

    public async Task<ApiKeyView[]> ListAsync(Guid userId, CancellationToken ct) =>
        [.. (await db.ApiKeys.AsNoTracking().Where(k => k.UserId == userId).OrderByDescending(k => k.CreatedAt).ToListAsync(ct))
            .Select(ApiKeyView.From)];

    /// <summary>Revokes the caller's key at once; revoking it again changes nothing. Another user's key is not found.</summary>
    public async Task<Outcome> RevokeAsync(Guid userId, Guid keyId, CancellationToken ct)
    {
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == keyId && k.UserId == userId, ct);
        if (key is null)
        {
            return Outcome.NotFound;
        }

        if (key.RevokedAt is null)
        {
            key.RevokedAt = Now();
            await db.SaveChangesAsync(ct);
        }

        return Outcome.Done;
    }

    /// <summary>
    /// A new key with the same name, scopes and expiry; the old one keeps working for <paramref name="grace"/>.
    /// Only an active key can be rerolled: a revoked, expired or already rerolled one is <see cref="Outcome.NotActive"/>.
    /// </summary>
    public async Task<(Outcome Outcome, RerolledApiKey? Key)> RerollAsync(Guid userId, Guid keyId, TimeSpan grace, CancellationToken ct)
    {
        var now = Now();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);

        // The user's row, as in CreateAsync, so that rerolls and creates count one after the other; the key's row so that
        // two rerolls of one key cannot both succeed.
        await db.Database.ExecuteSqlAsync($"SELECT 1 FROM users WHERE \"Id\" = {userId} FOR UPDATE", ct);
        var old = (await db.ApiKeys.FromSql($"SELECT * FROM api_keys WHERE \"Id\" = {keyId} FOR UPDATE").ToListAsync(ct)).FirstOrDefault();
        if (old is null || old.UserId != userId)
        {
            return (Outcome.NotFound, null);
        }

        if (old.RevokedAt is not null || old.ValidUntil is not null || old.ExpiresAt <= now)
        {
            return (Outcome.NotActive, null);
        }

        // With a grace period the old key keeps working beside the new one: both count toward the cap.
        if (grace > TimeSpan.Zero && await WorkingKeysAsync(userId, now, ct) >= options.Value.MaxActivePerUser)
        {
            return (Outcome.LimitReached, null);
        }

        var (key, secret) = NewKey(userId, old.Name, old.Scopes, old.ExpiresAt, now);
        (key.RateLimitPerMinute, key.CreditLimit, key.CreditLimitPeriod) = (old.RateLimitPerMinute, old.CreditLimit, old.CreditLimitPeriod);
        db.ApiKeys.Add(key);
        old.ValidUntil = now + grace;
        old.ReplacedById = key.Id;
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return (Outcome.Done, new RerolledApiKey(key.Id, key.Name, secret, key.Prefix, key.Scopes, key.CreatedAt, key.ExpiresAt,
            old.Id, Earliest(old.ExpiresAt, old.ValidUntil)!.Value));
    }

    /// <summary>Keys that a request could use right now: not revoked, not expired, and not past a reroll's grace period.</summary>
    private Task<int> WorkingKeysAsync(Guid userId, DateTimeOffset now, CancellationToken ct) =>
        db.ApiKeys.CountAsync(k => k.UserId == userId && k.RevokedAt == null
            && (k.ValidUntil == null || k.ValidUntil > now) && (k.ExpiresAt == null || k.ExpiresAt > now), ct);

    /// <summary>The gateway's question: which user and scopes a key stands for, or why it is refused.</summary>
    public async Task<IKeyVerdict> VerifyAsync(string? presented, CancellationToken ct)
    {
        // A malformed or mistyped key never costs a database query.
        if (!ApiKeyFormat.IsWellFormed(presented))
        {
            return Refuse(RefusedKey.Unknown);
        }

        var hash = ApiKeyFormat.Hash(presented!);
        var found = await (
            from k in db.ApiKeys.AsNoTracking()
            join u in db.Users on k.UserId equals u.Id
            where k.Hash == hash
            select new
            {
                k.Id, k.UserId, k.Hash, k.Scopes, k.ExpiresAt, k.ValidUntil, k.RevokedAt, k.LastUsedAt, k.RateLimitPerMinute, k.CreditLimit,
                k.CreditLimitPeriod, u.Tier, u.Disabled,
            })
            .FirstOrDefaultAsync(ct);
        if (found is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(found.Hash), Encoding.ASCII.GetBytes(hash)))
        {
            return Refuse(RefusedKey.Unknown);
        }

        var now = clock.GetUtcNow();
        if (found.RevokedAt is not null || found.Disabled || found.ValidUntil <= now)
        {
            return Refuse(RefusedKey.Revoked);
        }

        if (found.ExpiresAt <= now)
        {
            return Refuse(RefusedKey.Expired);
        }

        usage.Record(found.Id, found.LastUsedAt, now);
        metrics.Verified("valid");
        return new VerifiedKey(found.UserId, found.Id, found.Scopes, found.Tier, Earliest(found.ExpiresAt, found.ValidUntil),
            found.RateLimitPerMinute, found is { CreditLimit: { } cap, CreditLimitPeriod: { } period } ? new(cap, period) : null);
    }

    private RefusedKey Refuse(string reason)
    {
        metrics.Verified(reason);
        return new RefusedKey(reason);
    }

    private static (ApiKey Key, string Secret) NewKey(Guid userId, string name, string[] scopes, DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        var secret = ApiKeyFormat.Generate();
        return (new ApiKey
        {
            UserId = userId,
            Name = name,
            Hash = ApiKeyFormat.Hash(secret),
            Prefix = ApiKeyFormat.DisplayPrefix(secret),
            Scopes = scopes,
            CreatedAt = now,
            ExpiresAt = expiresAt,
        }, secret);
    }

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) =>
        a is null ? b : b is null ? a : a < b ? a : b;

    /// <summary>PostgreSQL keeps microseconds: answers given now match what is read back later.</summary>
    private DateTimeOffset Now() => AtMicroseconds(clock.GetUtcNow());

    public static DateTimeOffset AtMicroseconds(DateTimeOffset time) => new(time.UtcTicks - time.UtcTicks % 10, TimeSpan.Zero);
}

/// <summary>Limits asked for a key; a member not given (<c>Set...</c> false) stays as it is.</summary>
public sealed record KeyLimits(bool SetRateLimit, int? RateLimitPerMinute, bool SetCreditLimit, KeyCreditLimit? CreditLimit)
{
    public static readonly KeyLimits None = new(false, null, false, null);

    public void ApplyTo(ApiKey key)
    {
        if (SetRateLimit)
        {
            key.RateLimitPerMinute = RateLimitPerMinute;
        }

        if (SetCreditLimit)
        {
            (key.CreditLimit, key.CreditLimitPeriod) = (CreditLimit?.Amount, CreditLimit?.Period);
        }
    }
}
