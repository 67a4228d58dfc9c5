using System.Text.Json.Serialization;
using Timepoint.Identity.Data;
using Timepoint.ServiceDefaults;

namespace Timepoint.Identity.ApiKeys;

public static class ApiKeyScopes
{
    public const string Read = "read";
    public const string Write = "write";
    public const string Generate = "generate";

    /// <summary>Exists on the platform, but is never granted to a key by its user.</summary>
    public const string Admin = "admin";

    /// <summary>What a user may grant, in the order keys list them.</summary>
    public static readonly string[] Grantable = [Read, Write, Generate];
}

/// <summary>The answer to a create: the only time the secret is shown.</summary>
public sealed record CreatedApiKey(
    Guid Id, string Name, string Key, string Prefix, string[] Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt,
    int? RateLimitPerMinute, KeyCreditLimit? CreditLimit);

/// <summary>The answer to a reroll: the new key (its secret shown this once) and until when the old one still works.</summary>
public sealed record RerolledApiKey(
    Guid Id, string Name, string Key, string Prefix, string[] Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt,
    Guid PreviousKeyId, DateTimeOffset PreviousValidUntil);

/// <summary>A key as listed and exported: never the secret, never the hash.</summary>
/// <param name="CreditRemaining">What is left of the cap in its current period (null: no cap, or credits could not be asked).</param>
public sealed record ApiKeyView(
    Guid Id, string Name, string Prefix, string[] Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt,
    DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt, DateTimeOffset? ValidUntil, int? RateLimitPerMinute = null,
    KeyCreditLimit? CreditLimit = null, long? CreditRemaining = null)
{
    public static ApiKeyView From(ApiKey key) => new(
        key.Id, key.Name, key.Prefix, key.Scopes, key.CreatedAt, key.ExpiresAt, key.LastUsedAt, key.RevokedAt, key.ValidUntil,
        key.RateLimitPerMinute, LimitOf(key));

    public static KeyCreditLimit? LimitOf(ApiKey key) =>
        key is { CreditLimit: { } amount, CreditLimitPeriod: { } period } ? new KeyCreditLimit(amount, period) : null;
}

/// <summary>The answer of <c>GET /api/v1/auth/api-keys/{id}/usage</c>.</summary>
public sealed record ApiKeyUsageReport(Guid KeyId, DateOnly From, DateOnly To, IReadOnlyList<ApiKeyUsageDay> Days, ApiKeyUsageTotals Totals);

public sealed record ApiKeyUsageDay(DateOnly Date, long Requests, long Refused, long CreditsCharged);

public sealed record ApiKeyUsageTotals(long Requests, long Refused, long CreditsCharged);

/// <summary>The answer of the internal verification: a <see cref="VerifiedKey"/> or a <see cref="RefusedKey"/>.</summary>
public interface IKeyVerdict;

/// <summary>
/// Internal verification, a valid key: who it acts for, with which scopes, until when at the latest, and its own limits
/// (the edge enforces the rate limit and passes the credit cap to credits with each reservation).
/// </summary>
public sealed record VerifiedKey(Guid UserId, Guid KeyId, string[] Scopes, string Tier, DateTimeOffset? ValidUntil,
    int? RateLimitPerMinute = null, KeyCreditLimit? CreditLimit = null) : IKeyVerdict
{
    [JsonPropertyOrder(-1)]
    public bool Valid => true;
}

/// <summary>Internal verification, a refused key: unknown, revoked or expired.</summary>
public sealed record RefusedKey(string Reason) : IKeyVerdict
{
    public const string Unknown = "unknown";
    public const string Revoked = "revoked";
    public const string Expired = "expired";

    [JsonPropertyOrder(-1)]
    public bool Valid => false;
}

/// <summary>What the gateways receive on <see cref="ApiKeyRevocations.Channel"/>, one message per key.</summary>
/// <param name="ValidUntil">Null: refuse the key now. A time: the key works until then (a reroll's grace period).</param>
public sealed record ApiKeyRevocation(string KeyHash, Guid KeyId, DateTimeOffset? ValidUntil);
