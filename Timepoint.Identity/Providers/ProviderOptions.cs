using System.ComponentModel.DataAnnotations;

namespace Timepoint.Identity.Providers;

/// <summary>
/// Section <c>Identity:Providers</c>: Apple, Google and GitHub. Every endpoint defaults to the real provider's; tests and
/// staging point them elsewhere. A provider without a client id (or, for the flows that need one, a secret) is off.
/// </summary>
public sealed class ProvidersOptions
{
    public const string Section = "Identity:Providers";

    public ProviderOptions Apple { get; set; } = new()
    {
        Issuer = "https://appleid.apple.com",
        JwksUri = new("https://appleid.apple.com/auth/keys"),
        AuthorizationEndpoint = new("https://appleid.apple.com/auth/authorize"),
        TokenEndpoint = new("https://appleid.apple.com/auth/token"),
    };

    public ProviderOptions Google { get; set; } = new()
    {
        Issuer = "https://accounts.google.com",
        AlternateIssuer = "accounts.google.com",
        JwksUri = new("https://www.googleapis.com/oauth2/v3/certs"),
        AuthorizationEndpoint = new("https://accounts.google.com/o/oauth2/v2/auth"),
        TokenEndpoint = new("https://oauth2.googleapis.com/token"),
        Scope = "openid email profile",
    };

    public ProviderOptions GitHub { get; set; } = new()
    {
        AuthorizationEndpoint = new("https://github.com/login/oauth/authorize"),
        TokenEndpoint = new("https://github.com/login/oauth/access_token"),
        UserEndpoint = new("https://api.github.com/user"),
        EmailsEndpoint = new("https://api.github.com/user/emails"),
        Scope = "read:user user:email",
    };

    /// <summary>Timeout of each call to a provider (JWKS, token exchange, user API).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:01:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest provider response read; anything bigger is refused.</summary>
    [Range(1024, 4 * 1024 * 1024)]
    public int MaxResponseBytes { get; set; } = 256 * 1024;

    /// <summary>How long a provider's JWKS is used before it is fetched again.</summary>
    public TimeSpan JwksLifetime { get; set; } = TimeSpan.FromHours(6);

    /// <summary>An unknown <c>kid</c> refetches the JWKS at most this often (a flood of forged kids costs the provider nothing).</summary>
    public TimeSpan JwksMinRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a browser sign-in may take between leaving for the provider and coming back.</summary>
    public TimeSpan StateLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Lifetime of the identity session cookie that /connect/authorize signs a browser in with.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Tolerated clock difference with providers on <c>exp</c>/<c>iat</c>.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(1);

    public ProviderOptions? For(string provider) => provider switch
    {
        ProviderNames.Apple => Apple,
        ProviderNames.Google => Google,
        ProviderNames.GitHub => GitHub,
        _ => null,
    };
}

public sealed class ProviderOptions
{
    /// <summary>Our client id at the provider; several (web, iOS, Android apps) separated by commas. The first one drives the browser flow.</summary>
    public string? ClientId { get; set; }

    /// <summary>The client secret (GitHub, Google web). For Apple, give the team/key/private key instead and the secret JWT is made here.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>Apple: the developer team id (iss of the client secret JWT).</summary>
    public string? TeamId { get; set; }

    /// <summary>Apple: the id of the Sign in with Apple private key (kid of the client secret JWT).</summary>
    public string? KeyId { get; set; }

    /// <summary>Apple: the ES256 private key (PEM, PKCS#8) that signs the client secret JWT.</summary>
    public string? PrivateKey { get; set; }

    public string? Issuer { get; set; }

    /// <summary>A second accepted issuer (Google also issues as the bare host name).</summary>
    public string? AlternateIssuer { get; set; }

    public Uri? JwksUri { get; set; }

    public Uri? AuthorizationEndpoint { get; set; }

    public Uri? TokenEndpoint { get; set; }

    public Uri? UserEndpoint { get; set; }

    public Uri? EmailsEndpoint { get; set; }

    public string? Scope { get; set; }

    /// <summary>Our callback as the provider must see it; by default the edge's address (the token issuer) + /api/v1/auth/{provider}/callback.</summary>
    public Uri? CallbackUri { get; set; }

    public string[] ClientIds =>
        (ClientId ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public string[] Issuers => new[] { Issuer, AlternateIssuer }.Where(i => !string.IsNullOrEmpty(i)).Select(i => i!).ToArray();

    public bool HasSecret => !string.IsNullOrEmpty(ClientSecret) ||
        (!string.IsNullOrEmpty(TeamId) && !string.IsNullOrEmpty(KeyId) && !string.IsNullOrEmpty(PrivateKey));
}

public static class ProviderNames
{
    public const string Apple = "apple";
    public const string Google = "google";
    public const string GitHub = "github";

    public static readonly string[] All = [Apple, Google, GitHub];
}

/// <summary>Error codes of the provider sign-ins beyond the list of docs/contract.md#3-every-request.</summary>
public static class ProviderErrorCodes
{
    /// <summary>503: the provider has no client id/secret configured here.</summary>
    public const string NotConfigured = "provider_not_configured";

    /// <summary>401: the provider refused the code or the access token (bad, expired or already used).</summary>
    public const string Rejected = "auth.provider_rejected";
}
