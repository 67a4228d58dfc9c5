namespace Timepoint.Gateway.Auth;

public static class AuthMethod
{
    public const string Jwt = "jwt";
    public const string ApiKey = "api_key";
}

/// <summary>Who the edge authenticated; what it forwards, signed, to the backend.</summary>
public sealed record Caller(Guid UserId, string Method, string? ApiKeyId, string[] Scopes, string Tier, DateTimeOffset ExpiresAt,
    string? SessionId = null)
{
    /// <summary>
    /// The rate-limit subject: the user, whatever the credential. A JWT and every API key of one user spend one tier,
    /// read and write budget (per key, a user with N keys had N budgets).
    /// </summary>
    public string Subject => $"u:{UserId}";
}
