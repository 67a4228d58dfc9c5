namespace Timepoint.Gateway.Auth;

public enum CredentialKind
{
    None,
    Jwt,
    ApiKey,
    /// <summary>Two different credentials, or a header sent twice: refused rather than guessed at.</summary>
    Ambiguous,
    Malformed,
}

public readonly record struct Credential(CredentialKind Kind, string Value = "");

public static class Credentials
{
    public const string ApiKeyHeader = "X-API-Key";
    public const string ApiKeyPrefix = "tp_gw_";

    /// <summary><c>Authorization: Bearer &lt;jwt&gt;</c>, <c>X-API-Key: &lt;key&gt;</c>, or <c>Authorization: Bearer &lt;api key&gt;</c>.</summary>
    public static Credential Read(HttpRequest request)
    {
        var authorization = request.Headers.Authorization;
        var apiKey = request.Headers[ApiKeyHeader];
        if (authorization.Count > 1 || apiKey.Count > 1)
        {
            return new(CredentialKind.Ambiguous);
        }

        Credential? bearer = null;
        if (authorization.Count == 1)
        {
            var value = authorization[0]!;
            if (!value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || value.Length <= 7)
            {
                return new(CredentialKind.Malformed);
            }

            var token = value[7..].Trim();
            bearer = token.StartsWith(ApiKeyPrefix, StringComparison.Ordinal)
                ? new(CredentialKind.ApiKey, token)
                : new(CredentialKind.Jwt, token);
        }

        if (apiKey.Count == 1)
        {
            return bearer is not null ? new(CredentialKind.Ambiguous) : new(CredentialKind.ApiKey, apiKey[0]!.Trim());
        }

        return bearer ?? new(CredentialKind.None);
    }

    /// <summary>Credentials are consumed at the edge; backends get the signed identity instead.</summary>
    public static void Remove(HttpRequest request)
    {
        request.Headers.Remove(ApiKeyHeader);
        request.Headers.Remove("Authorization");
    }
}
