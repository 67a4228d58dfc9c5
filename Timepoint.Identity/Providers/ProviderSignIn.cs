using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Timepoint.Identity.Users;

namespace Timepoint.Identity.Providers;

/// <summary>What Apple, Google and GitHub say about who signed in; every answer is verified before it becomes an <see cref="ExternalIdentity"/>.</summary>
public sealed class ProviderSignIn(ProviderHttp http, ProviderKeys keys, IOptions<ProvidersOptions> options, TimeProvider clock)
{
    /// <summary>The settings of a provider that can take native sign-ins (a client id at least), or <see cref="ProviderFailureKind.NotConfigured"/>.</summary>
    public ProviderOptions Configured(string provider, bool needSecret)
    {
        var settings = options.Value.For(provider) ?? throw new ProviderFailure(ProviderFailureKind.BadRequest, $"Unknown provider '{provider}'.");
        if (settings.ClientIds.Length == 0 || (needSecret && !settings.HasSecret))
        {
            throw ProviderFailure.NotConfigured(provider);
        }

        return settings;
    }

    /// <summary>Apple or Google: an ID token the app received from the provider's SDK.</summary>
    public async Task<ExternalIdentity> FromIdTokenAsync(string provider, string? idToken, string? nonce, CancellationToken ct)
    {
        var settings = Configured(provider, needSecret: false);
        if (string.IsNullOrWhiteSpace(idToken))
        {
            throw new ProviderFailure(ProviderFailureKind.BadRequest, "The provider's ID token is required.");
        }

        var identity = await keys.ValidateAsync(provider, settings, idToken, nonce, ct);
        return FromClaims(provider, identity);
    }

    /// <summary>An authorization code from the provider, redeemed with our secret (and the PKCE verifier when one was used).</summary>
    public async Task<ExternalIdentity> FromCodeAsync(string provider, string? code, string? redirectUri, string? codeVerifier, string? nonce,
        CancellationToken ct)
    {
        var settings = Configured(provider, needSecret: true);
        if (string.IsNullOrWhiteSpace(code) || code.Length > 2048)
        {
            throw new ProviderFailure(ProviderFailureKind.BadRequest, "The provider's authorization code is required.");
        }

        if (string.IsNullOrWhiteSpace(redirectUri) || !Uri.TryCreate(redirectUri, UriKind.Absolute, out _))
        {
            throw new ProviderFailure(ProviderFailureKind.BadRequest, "redirect_uri must be the absolute URI the code was sent to.");
        }

        if (settings.TokenEndpoint is null)
        {
            throw ProviderFailure.NotConfigured(provider);
        }

        List<KeyValuePair<string, string>> form =
        [
            new("grant_type", "authorization_code"),
            new("code", code),
            new("redirect_uri", redirectUri),
            new("client_id", settings.ClientIds[0]),
            new("client_secret", ClientSecret(provider, settings)),
        ];
        if (!string.IsNullOrEmpty(codeVerifier))
        {
            form.Add(new("code_verifier", codeVerifier));
        }

        var answer = await http.PostFormAsync(provider, settings.TokenEndpoint, form, ct);
        if (answer.ValueKind != JsonValueKind.Object || answer.TryGetProperty("error", out _))
        {
            throw new ProviderFailure(ProviderFailureKind.Rejected, $"{provider} refused the authorization code.");
        }

        if (provider == ProviderNames.GitHub)
        {
            var accessToken = String(answer, "access_token") ??
                throw new ProviderFailure(ProviderFailureKind.Rejected, "GitHub returned no access token.");
            return await FromGitHubAsync(settings, accessToken, ct);
        }

        var idToken = String(answer, "id_token") ?? throw ProviderFailure.Invalid($"{provider} returned no ID token.");
        return FromClaims(provider, await keys.ValidateAsync(provider, settings, idToken, nonce, ct));
    }

    /// <summary>Where to send the browser: the provider's authorization endpoint with our state, nonce and PKCE challenge.</summary>
    public Uri AuthorizationUri(string provider, ProviderOptions settings, Uri callback, string state, string nonce, string codeChallenge)
    {
        var query = new QueryBuilder
        {
            { "response_type", "code" },
            { "client_id", settings.ClientIds[0] },
            { "redirect_uri", callback.AbsoluteUri },
            { "state", state },
            { "code_challenge", codeChallenge },
            { "code_challenge_method", "S256" },
        };
        if (!string.IsNullOrEmpty(settings.Scope))
        {
            query.Add("scope", settings.Scope);
        }

        if (provider != ProviderNames.GitHub)
        {
            query.Add("nonce", nonce);
        }

        if (provider == ProviderNames.Apple)
        {
            // Scopes would force response_mode=form_post, a cross-site POST our GET callback and Lax cookies do not take.
            query.Add("response_mode", "query");
        }

        var endpoint = settings.AuthorizationEndpoint ?? throw ProviderFailure.NotConfigured(provider);
        return new Uri(endpoint.AbsoluteUri + (string.IsNullOrEmpty(endpoint.Query) ? query.ToString() : "&" + query.ToString()[1..]));
    }

    private async Task<ExternalIdentity> FromGitHubAsync(ProviderOptions settings, string accessToken, CancellationToken ct)
    {
        if (settings.UserEndpoint is null)
        {
            throw ProviderFailure.NotConfigured(ProviderNames.GitHub);
        }

        var user = await http.GetJsonAsync(ProviderNames.GitHub, settings.UserEndpoint, accessToken, ct);
        if (user.ValueKind != JsonValueKind.Object || !user.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number)
        {
            throw new ProviderFailure(ProviderFailureKind.Rejected, "GitHub did not return the user.");
        }

        // The profile's public email is not proof of ownership: only the verified primary address from /user/emails is.
        string? email = null;
        if (settings.EmailsEndpoint is not null)
        {
            var emails = await http.GetJsonAsync(ProviderNames.GitHub, settings.EmailsEndpoint, accessToken, ct);
            if (emails.ValueKind == JsonValueKind.Array)
            {
                email = emails.EnumerateArray()
                    .Where(e => e.ValueKind == JsonValueKind.Object && IsTrue(e, "primary") && IsTrue(e, "verified"))
                    .Select(e => Email(String(e, "email")))
                    .FirstOrDefault(e => e is not null);
            }
        }

        return new ExternalIdentity(ProviderNames.GitHub, id.GetRawText(), email, email is not null,
            String(user, "name") ?? String(user, "login"), AvatarUrl(String(user, "avatar_url")));
    }

    private static ExternalIdentity FromClaims(string provider, ClaimsIdentity identity)
    {
        if (identity.FindFirst("sub")!.Value.Length > MaxSubject)
        {
            throw ProviderFailure.Invalid("The ID token's subject is too long.");
        }

        var email = Email(identity.FindFirst("email")?.Value);
        // Apple sends email_verified as the string "true"; Google as a JSON boolean.
        var verified = string.Equals(identity.FindFirst("email_verified")?.Value, "true", StringComparison.OrdinalIgnoreCase);
        return new ExternalIdentity(provider, identity.FindFirst("sub")!.Value, email, verified && email is not null,
            identity.FindFirst("name")?.Value, AvatarUrl(identity.FindFirst("picture")?.Value));
    }

    /// <summary>Apple wants an ES256 JWT as the client secret, signed with the team's key; others take the configured secret.</summary>
    private string ClientSecret(string provider, ProviderOptions settings)
    {
        if (provider != ProviderNames.Apple || string.IsNullOrEmpty(settings.PrivateKey))
        {
            return settings.ClientSecret!;
        }

        using var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(settings.PrivateKey);
        // Not cached: the key object is disposed right after signing.
        var key = new ECDsaSecurityKey(ecdsa)
        {
            KeyId = settings.KeyId,
            CryptoProviderFactory = new CryptoProviderFactory { CacheSignatureProviders = false },
        };
        var now = clock.GetUtcNow().UtcDateTime;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.TeamId,
            Audience = settings.Issuer,
            Subject = new ClaimsIdentity([new Claim("sub", settings.ClientIds[0])]),
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(5),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256),
        });
    }

    /// <summary>The longest subject and email the account tables hold; a provider never sends longer ones.</summary>
    private const int MaxSubject = 255;

    private static string? Email(string? email) => email is { Length: <= 320 } && email.Contains('@') ? email : null;

    private static string? AvatarUrl(string? url) =>
        url is { Length: <= 2048 } && Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps ? url : null;

    private static bool IsTrue(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && (value.ValueKind == JsonValueKind.True ||
            (value.ValueKind == JsonValueKind.String && value.GetString() == "true"));

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s
            ? s
            : null;
}
