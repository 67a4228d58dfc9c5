using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Identity.Providers;

/// <summary>
/// Verifies Apple and Google ID tokens against their published keys: JWKS cached, refetched when a token names an
/// unknown <c>kid</c> (at most once per <see cref="ProvidersOptions.JwksMinRefreshInterval"/>), RS256/ES256 only.
/// </summary>
public sealed class ProviderKeys(ProviderHttp http, IOptions<ProvidersOptions> options, TimeProvider clock, ILogger<ProviderKeys> logger)
{
    /// <summary>What the providers sign with; never none or HS* (a public key used as an HMAC secret).</summary>
    private static readonly string[] Algorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];

    private readonly ConcurrentDictionary<Uri, KeySet> sets = new();
    private readonly JsonWebTokenHandler handler = new() { MapInboundClaims = false };

    /// <summary>The validated claims of a provider ID token, or a <see cref="ProviderFailure"/>.</summary>
    public async Task<ClaimsIdentity> ValidateAsync(string provider, ProviderOptions settings, string token, string? nonce, CancellationToken ct)
    {
        if (settings.JwksUri is null || settings.Issuers.Length == 0)
        {
            throw ProviderFailure.NotConfigured(provider);
        }

        if (token.Length > 16 * 1024 || !handler.CanReadToken(token))
        {
            throw ProviderFailure.Invalid("The ID token is not a JWT.");
        }

        JsonWebToken header;
        try
        {
            header = new JsonWebToken(token);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenMalformedException)
        {
            throw ProviderFailure.Invalid("The ID token is not a JWT.");
        }

        if (!Algorithms.Contains(header.Alg, StringComparer.Ordinal))
        {
            throw ProviderFailure.Invalid($"ID tokens signed with '{header.Alg}' are not accepted.");
        }

        var keys = await KeysAsync(provider, settings.JwksUri, header.Kid, ct);
        var result = await handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuers = settings.Issuers,
            ValidAudiences = settings.ClientIds,
            IssuerSigningKeys = keys,
            ValidAlgorithms = Algorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = options.Value.ClockSkew,
            TryAllIssuerSigningKeys = string.IsNullOrEmpty(header.Kid),
            LifetimeValidator = (notBefore, expires, _, parameters) =>
                expires is { } exp && exp + parameters.ClockSkew > clock.GetUtcNow().UtcDateTime &&
                (notBefore is not { } nbf || nbf - parameters.ClockSkew <= clock.GetUtcNow().UtcDateTime),
        });

        if (!result.IsValid)
        {
            var expired = result.Exception is SecurityTokenInvalidLifetimeException &&
                header.ValidTo != DateTime.MinValue && header.ValidTo <= clock.GetUtcNow().UtcDateTime;
            logger.LogInformation("Refused a {Provider} ID token: {Reason}", provider, result.Exception?.GetType().Name);
            throw expired
                ? new ProviderFailure(ProviderFailureKind.ExpiredToken, "The ID token has expired.")
                : ProviderFailure.Invalid("The ID token is invalid: wrong signature, issuer, audience or lifetime.");
        }

        var identity = result.ClaimsIdentity;
        if (string.IsNullOrEmpty(identity.FindFirst("sub")?.Value))
        {
            throw ProviderFailure.Invalid("The ID token names no subject.");
        }

        if (nonce is not null && !NonceMatches(identity.FindFirst("nonce")?.Value, nonce))
        {
            throw ProviderFailure.Invalid("The ID token's nonce does not match.");
        }

        return identity;
    }

    /// <summary>The token carries the nonce itself, or (the Apple and Firebase convention) its SHA-256 in hex.</summary>
    private static bool NonceMatches(string? claimed, string nonce)
    {
        if (string.IsNullOrEmpty(claimed))
        {
            return false;
        }

        var hashed = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(nonce)));
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.UTF8.GetBytes(claimed), System.Text.Encoding.UTF8.GetBytes(nonce)) ||
            string.Equals(claimed, hashed, StringComparison.OrdinalIgnoreCase);
    }

    private async Task<IList<SecurityKey>> KeysAsync(string provider, Uri jwksUri, string? kid, CancellationToken ct)
    {
        var set = sets.GetOrAdd(jwksUri, _ => new KeySet());
        var now = clock.GetUtcNow();
        var settings = options.Value;
        var stale = set.Keys is null || now - set.FetchedAt > settings.JwksLifetime;
        var unknownKid = !string.IsNullOrEmpty(kid) && set.Keys is not null && !set.Keys.Any(k => k.KeyId == kid);
        if (stale || (unknownKid && now - set.FetchedAt >= settings.JwksMinRefreshInterval))
        {
            await set.Gate.WaitAsync(ct);
            try
            {
                // Another caller may have refreshed while this one waited.
                now = clock.GetUtcNow();
                stale = set.Keys is null || now - set.FetchedAt > settings.JwksLifetime;
                unknownKid = !string.IsNullOrEmpty(kid) && set.Keys is not null && !set.Keys.Any(k => k.KeyId == kid);
                if (stale || (unknownKid && now - set.FetchedAt >= settings.JwksMinRefreshInterval))
                {
                    try
                    {
                        set.Keys = Parse(await http.GetJsonAsync(provider, jwksUri, null, ct));
                        set.FetchedAt = now;
                        logger.LogInformation("Fetched {Count} {Provider} signing keys", set.Keys.Count, provider);
                    }
                    catch (ProviderFailure) when (set.Keys is not null)
                    {
                        // Keep verifying with the keys we have while the provider is unreachable.
                        set.FetchedAt = now;
                    }
                }
            }
            finally
            {
                set.Gate.Release();
            }
        }

        return set.Keys ?? throw ProviderFailure.Unavailable(provider);
    }

    private static List<SecurityKey> Parse(JsonElement body)
    {
        var keys = new List<SecurityKey>();
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("keys", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            return keys;
        }

        foreach (var item in array.EnumerateArray())
        {
            try
            {
                var key = new JsonWebKey(item.GetRawText());
                // Only public asymmetric signing keys; a symmetric "oct" key in a JWKS is never trusted.
                if (key.Kty is JsonWebAlgorithmsKeyTypes.RSA or JsonWebAlgorithmsKeyTypes.EllipticCurve &&
                    key.Use is null or "sig" && !key.HasPrivateKey)
                {
                    keys.Add(key);
                }
            }
            catch (ArgumentException)
            {
                // a malformed entry is skipped, not fatal
            }
        }

        return keys;
    }

    private sealed class KeySet
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public List<SecurityKey>? Keys { get; set; }

        public DateTimeOffset FetchedAt { get; set; }
    }
}
