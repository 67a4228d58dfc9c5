namespace Timepoint.Client;

/// <summary>What an API key may do: <c>read</c> (GET), <c>write</c> (other unmetered calls), <c>generate</c> (metered calls).</summary>
public static class ApiKeyScopes
{
    public const string Read = "read";
    public const string Write = "write";
    public const string Generate = "generate";
}

/// <summary><c>POST /api/v1/auth/api-keys</c>: a name, the scopes (default <c>read</c> only) and an optional expiry.</summary>
public sealed record CreateApiKeyRequest(string Name, IReadOnlyList<string>? Scopes = null, DateTimeOffset? ExpiresAt = null);

/// <summary>A new key; <see cref="Key"/> is the secret, shown this once.</summary>
public sealed record CreatedApiKey(
    Guid Id, string Name, string Key, string Prefix, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt);

/// <summary>A rerolled key: the new secret (shown this once) and until when the previous one still works.</summary>
public sealed record RerolledApiKey(
    Guid Id, string Name, string Key, string Prefix, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt,
    Guid PreviousKeyId, DateTimeOffset PreviousValidUntil);

/// <summary>A key as listed: never its secret.</summary>
public sealed record ApiKey(
    Guid Id, string Name, string Prefix, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt,
    DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt, DateTimeOffset? ValidUntil);

/// <summary><c>POST /api/v1/auth/api-keys/{id}/reroll</c>: how long the old secret keeps working (default one day, at most seven).</summary>
public sealed record RerollApiKeyRequest(int? GraceSeconds = null);
