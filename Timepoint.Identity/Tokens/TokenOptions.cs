using System.ComponentModel.DataAnnotations;

namespace Timepoint.Identity.Tokens;

/// <summary>Section <c>Identity:Tokens</c>.</summary>
public sealed class TokenOptions
{
    public const string Section = "Identity:Tokens";

    /// <summary>
    /// The issuer: the platform's public address (AppHost parameter <c>public-url</c>; http://localhost:5080/ in development).
    /// It also names every endpoint of the discovery document, the provider callbacks' default and whether cookies are Secure.
    /// </summary>
    [Required(ErrorMessage = IssuerRule)]
    [PublicUrl(ErrorMessage = IssuerRule)]
    public Uri Issuer { get; set; } = new("http://localhost:5080/");

    private const string IssuerRule = "Identity:Tokens:Issuer (env Identity__Tokens__Issuer, the AppHost parameter public-url) must be "
        + "an absolute http or https URL whose path ends with '/', without user info, query or fragment, e.g. https://api.example.com/.";

    public const string Audience = GatewayClaims.TokenAudience;

    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long a used refresh token may be presented again before that counts as theft (0: never).</summary>
    public TimeSpan RefreshTokenReuseLeeway { get; set; } = TimeSpan.Zero;

    /// <summary>How long a rotated-in signing key is published before it signs, so every edge has it cached.</summary>
    public TimeSpan KeyPublishLead { get; set; } = TimeSpan.FromMinutes(10);

    public TimeSpan KeyLifetime { get; set; } = TimeSpan.FromDays(365);

    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);
}
