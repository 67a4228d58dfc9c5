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
    /// <summary>The rate-limit subject: per user for JWTs, per key for API keys.</summary>
    public string Subject => ApiKeyId is null ? $"u:{UserId}" : $"k:{ApiKeyId}";
}
