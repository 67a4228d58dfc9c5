using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Gateway.Auth;

public enum JwtVerdict
{
    Valid,
    Invalid,
    Expired,
    /// <summary>Identity's keys (or its revoked sessions) have never been readable: fail closed.</summary>
    Unavailable,
    /// <summary>The token's session was logged out or revoked, or its user disabled or deleted.</summary>
    Revoked,
}

public readonly record struct JwtOutcome(JwtVerdict Verdict, Caller? Caller = null, string? Detail = null);

/// <summary>
/// Validates access tokens locally against identity's keys: RS256/ES256 only, issuer, audience timepoint-api, typ at+jwt,
/// lifetime with a small explicit skew. A valid token is remembered by its SHA-256 until it expires, so a client that
/// reuses its token pays for the signature check once.
/// </summary>
public sealed class JwtValidator(IdentityKeys keys, SessionRevocationList revocations, IOptions<GatewayOptions> options)
{
    public const string Audience = GatewayClaims.TokenAudience;

    /// <summary>OpenIddict's authorization id: one per sign-in, kept by every refresh of it.</summary>
    public const string SessionClaim = "oi_au_id";
    private static readonly string[] Algorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];

    private readonly JsonWebTokenHandler handler = new() { MapInboundClaims = false };
    // Bounded: at most Gateway:ValidatedTokenCacheSize tokens, each until its exp (a full cache takes no new ones; a token
    // not remembered pays for its signature check again).
    private readonly MemoryCache validated = new(new MemoryCacheOptions { SizeLimit = Math.Max(1, options.Value.ValidatedTokenCacheSize) });

    /// <summary>Validated tokens remembered now.</summary>
    public int Remembered => validated.Count;

    public async ValueTask<JwtOutcome> ValidateAsync(string token, CancellationToken ct)
    {
        var outcome = await ValidateSignedAsync(token, ct);
        if (outcome.Verdict != JwtVerdict.Valid)
        {
            return outcome;
        }

        // Checked on every request, the remembered tokens too: a revocation must not wait for a token to leave the cache.
        if (!await revocations.WaitLoadedAsync(ct))
        {
            return new JwtOutcome(JwtVerdict.Unavailable);
        }

        return revocations.IsRevoked(outcome.Caller!.SessionId)
            ? new JwtOutcome(JwtVerdict.Revoked, Detail: "The session has ended (signed out, revoked, or the account disabled or deleted).")
            : outcome;
    }

    private async ValueTask<JwtOutcome> ValidateSignedAsync(string token, CancellationToken ct)
    {
        // One token, one spelling: the JWT library decodes a padded signature, so "signature==" would verify, and be
        // remembered, as a second token with the same signature. Anything but canonical unpadded base64url is refused here.
        if (!IsCanonicalCompactJws(token))
        {
            return new JwtOutcome(JwtVerdict.Invalid, Detail: "The token is not a well-formed JWT.");
        }

        var hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        // A remembered token stands only while the key that signed it is still published: removing a (leaked) key must end
        // every token it signed, including those already seen, whatever exp they claim.
        if (validated.TryGetValue(hash, out Validated? cached) && cached!.Caller.ExpiresAt > DateTimeOffset.UtcNow
            && keys.Current?.Keys.ContainsKey(cached.Kid) == true)
        {
            return new JwtOutcome(JwtVerdict.Valid, cached.Caller);
        }

        JsonWebToken jwt;
        try
        {
            jwt = new JsonWebToken(token);
        }
        catch (ArgumentException)
        {
            return new JwtOutcome(JwtVerdict.Invalid, Detail: "The token is not a well-formed JWT.");
        }

        var snapshot = await keys.GetAsync(ct);
        if (snapshot is null)
        {
            return new JwtOutcome(JwtVerdict.Unavailable);
        }

        if (string.IsNullOrEmpty(jwt.Kid) || !snapshot.Keys.ContainsKey(jwt.Kid))
        {
            snapshot = await keys.RefreshForUnknownKeyAsync(ct) ?? snapshot;
            if (string.IsNullOrEmpty(jwt.Kid) || !snapshot.Keys.ContainsKey(jwt.Kid))
            {
                return new JwtOutcome(JwtVerdict.Invalid, Detail: "The token was not signed by a known key.");
            }
        }

        var result = await handler.ValidateTokenAsync(jwt, new TokenValidationParameters
        {
            ValidIssuer = snapshot.Issuer,
            ValidAudience = Audience,
            ValidTypes = ["at+jwt"],
            ValidAlgorithms = Algorithms,
            IssuerSigningKey = snapshot.Keys[jwt.Kid],
            TryAllIssuerSigningKeys = false,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ClockSkew = options.Value.ClockSkew,
        });
        if (!result.IsValid)
        {
            return result.Exception is SecurityTokenExpiredException
                ? new JwtOutcome(JwtVerdict.Expired, Detail: "The access token has expired.")
                : new JwtOutcome(JwtVerdict.Invalid, Detail: "The access token is not valid.");
        }

        if (!Guid.TryParse(jwt.Subject, out var userId))
        {
            return new JwtOutcome(JwtVerdict.Invalid, Detail: "The token does not name a user.");
        }

        var caller = new Caller(userId, AuthMethod.Jwt, ApiKeyId: null,
            Scopes: jwt.TryGetPayloadValue<string>("scope", out var scope) ? scope.Split(' ', StringSplitOptions.RemoveEmptyEntries) : [],
            Tier: jwt.TryGetPayloadValue<string>("tier", out var tier) ? tier : "free",
            ExpiresAt: new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero),
            SessionId: jwt.TryGetPayloadValue<string>(SessionClaim, out var session) ? session : null);
        validated.Set(hash, new Validated(caller, jwt.Kid), new MemoryCacheEntryOptions { AbsoluteExpiration = caller.ExpiresAt, Size = 1 });
        return new JwtOutcome(JwtVerdict.Valid, caller);
    }

    private sealed record Validated(Caller Caller, string Kid);

    /// <summary>Three segments, each unpadded base64url in its only spelling (RFC 7515 section 2: no '=', no other characters, zero trailing bits).</summary>
    public static bool IsCanonicalCompactJws(string token)
    {
        var segments = token.Split('.');
        if (segments.Length != 3)
        {
            return segments.Length == 5; // a JWE shape: the handler refuses it with the same answer
        }

        foreach (var segment in segments)
        {
            if (segment.Length == 0 || !segment.All(IsBase64UrlChar))
            {
                return false;
            }

            // Two characters spell one byte with 4 unused bits, three spell two bytes with 2: those bits must be zero.
            var unused = (segment.Length % 4) switch { 2 => 0b1111, 3 => 0b11, _ => 0 };
            if (segment.Length % 4 == 1 || (Base64UrlValue(segment[^1]) & unused) != 0)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsBase64UrlChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_';

    private static int Base64UrlValue(char c) => c switch
    {
        >= 'A' and <= 'Z' => c - 'A',
        >= 'a' and <= 'z' => c - 'a' + 26,
        >= '0' and <= '9' => c - '0' + 52,
        '-' => 62,
        _ => 63,
    };
}
