using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Identity.Tests.Providers;

/// <summary>A user as the stand-in provider knows them.</summary>
public sealed record StandInUser(string Subject, string? Email, bool EmailVerified = true, string Name = "Stand-in User")
{
    public static StandInUser New(bool emailVerified = true, string? email = null) =>
        new(Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture),
            email ?? $"p-{Guid.NewGuid():N}@example.test", emailVerified);
}

/// <summary>
/// A local Apple, Google or GitHub on a loopback port: JWKS, authorization, token, user and emails endpoints, signing
/// ID tokens with its own keys. Its authorization endpoint signs in as <see cref="NextUser"/> without asking.
/// </summary>
public sealed class StandInProvider : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, Grant> codes = new();
    private readonly ConcurrentDictionary<string, StandInUser> accessTokens = new();
    private SecurityKey signingKey;

    private StandInProvider(string name, bool oidc, string algorithm, WebApplication app)
    {
        Name = name;
        IsOidc = oidc;
        Algorithm = algorithm;
        this.app = app;
        signingKey = NewKey();
    }

    public string Name { get; }

    public bool IsOidc { get; }

    /// <summary>RS256 or ES256.</summary>
    public string Algorithm { get; }

    public Uri BaseUri { get; private set; } = null!;

    public string Issuer => BaseUri.AbsoluteUri.TrimEnd('/');

    public string ClientId => $"{Name}-client";

    public string ClientSecret => $"{Name}-secret-0123456789";

    public StandInUser NextUser { get; set; } = StandInUser.New();

    /// <summary>Every endpoint answers 500.</summary>
    public bool Down { get; set; }

    /// <summary>Every endpoint waits this long first.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Checks the client secret instead of comparing it with <see cref="ClientSecret"/> (Apple's is a JWT).</summary>
    public Func<string, bool>? ClientSecretCheck { get; set; }

    /// <summary>Characters of filler added to the GitHub user answer (an oversized response).</summary>
    public int Padding { get; set; }

    /// <summary>How often the JWKS was fetched.</summary>
    public int JwksRequests;

    public SecurityKey SigningKey => signingKey;

    public static async Task<StandInProvider> StartAsync(string name, bool oidc, string algorithm = SecurityAlgorithms.RsaSha256)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var provider = new StandInProvider(name, oidc, algorithm, app);
        provider.Map();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        provider.BaseUri = new Uri(address.TrimEnd('/') + "/");
        return provider;
    }

    /// <summary>The identity settings that point a provider at this stand-in.</summary>
    public IEnumerable<KeyValuePair<string, string?>> Settings(string section, params string[] extraClientIds)
    {
        var prefix = $"Identity:Providers:{section}:";
        yield return new(prefix + "ClientId", string.Join(',', [ClientId, .. extraClientIds]));
        yield return new(prefix + "ClientSecret", ClientSecret);
        yield return new(prefix + "AuthorizationEndpoint", new Uri(BaseUri, "authorize").AbsoluteUri);
        yield return new(prefix + "TokenEndpoint", new Uri(BaseUri, "token").AbsoluteUri);
        if (IsOidc)
        {
            yield return new(prefix + "Issuer", Issuer);
            yield return new(prefix + "AlternateIssuer", "");
            yield return new(prefix + "JwksUri", new Uri(BaseUri, "jwks").AbsoluteUri);
        }
        else
        {
            yield return new(prefix + "UserEndpoint", new Uri(BaseUri, "user").AbsoluteUri);
            yield return new(prefix + "EmailsEndpoint", new Uri(BaseUri, "user/emails").AbsoluteUri);
        }
    }

    /// <summary>A new signing key (new kid); the JWKS publishes only the new one from now on.</summary>
    public void RotateKey() => signingKey = NewKey();

    /// <summary>An ID token as the provider's SDK would hand it to an app.</summary>
    public string IdToken(StandInUser user, string? nonce = null, string? audience = null, string? issuer = null,
        DateTime? expires = null, SecurityKey? key = null, bool emailVerifiedAsString = false)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["sub"] = user.Subject, ["name"] = user.Name };
        if (user.Email is not null)
        {
            claims["email"] = user.Email;
            claims["email_verified"] = emailVerifiedAsString ? (user.EmailVerified ? "true" : "false") : user.EmailVerified;
        }

        if (nonce is not null)
        {
            claims["nonce"] = nonce;
        }

        var expiry = expires ?? now.AddMinutes(10);
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Issuer,
            Audience = audience ?? ClientId,
            Claims = claims,
            IssuedAt = expiry.AddMinutes(-10),
            Expires = expiry,
            SigningCredentials = Credentials(key ?? signingKey),
        });
    }

    /// <summary>An unsigned token (alg none) with otherwise valid claims.</summary>
    public string UnsignedIdToken(StandInUser user)
    {
        var signed = new JsonWebToken(IdToken(user));
        var header = Base64UrlEncoder.Encode("{\"alg\":\"none\",\"typ\":\"JWT\"}");
        return $"{header}.{signed.EncodedPayload}.";
    }

    /// <summary>HS256 "signed" with the provider's public key as the HMAC secret: the classic algorithm confusion.</summary>
    public string HmacConfusedIdToken(StandInUser user)
    {
        var publicJwk = JsonSerializer.Serialize(PublicJwk(signingKey));
        var hmac = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(publicJwk)) { KeyId = signingKey.KeyId };
        return IdToken(user, key: hmac);
    }

    /// <summary>A code as the authorization endpoint would issue it (for the native GitHub exchange).</summary>
    public string IssueCode(StandInUser user, string redirectUri, string? codeChallenge = null, string? nonce = null)
    {
        var code = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(24));
        codes[code] = new Grant(user, redirectUri, codeChallenge, nonce);
        return code;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private void Map()
    {
        app.Use(async (context, next) =>
        {
            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay, context.RequestAborted);
            }

            if (Down)
            {
                context.Response.StatusCode = 500;
                return;
            }

            await next(context);
        });

        app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref JwksRequests);
            return Results.Json(new { keys = new[] { PublicJwk(signingKey) } });
        });

        app.MapGet("/authorize", (HttpRequest request) =>
        {
            var query = request.Query;
            if (query["client_id"] != ClientId || query["response_type"] != "code" || string.IsNullOrEmpty(query["redirect_uri"]))
            {
                return Results.BadRequest();
            }

            if (query["code_challenge_method"] != "S256" || string.IsNullOrEmpty(query["code_challenge"]))
            {
                return Results.BadRequest(); // this stand-in insists on PKCE, as the flow under test promises
            }

            var code = IssueCode(NextUser, query["redirect_uri"]!, query["code_challenge"], query["nonce"]);
            var target = QueryHelpers.AddQueryString(query["redirect_uri"]!,
                new Dictionary<string, string?> { ["code"] = code, ["state"] = query["state"], ["scope"] = "openid email", ["authuser"] = "0" });
            return Results.Redirect(target);
        });

        app.MapPost("/token", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            var secret = form["client_secret"].ToString();
            if (form["client_id"] != ClientId || !(ClientSecretCheck?.Invoke(secret) ?? secret == ClientSecret))
            {
                return Error("invalid_client");
            }

            if (!codes.TryRemove(form["code"].ToString(), out var grant) || grant.RedirectUri != form["redirect_uri"])
            {
                return Error(IsOidc ? "invalid_grant" : "bad_verification_code");
            }

            if (grant.CodeChallenge is not null)
            {
                var verifier = form["code_verifier"].ToString();
                var expected = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
                if (verifier.Length == 0 || expected != grant.CodeChallenge)
                {
                    return Error("invalid_grant");
                }
            }

            var accessToken = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(24));
            accessTokens[accessToken] = grant.User;
            return IsOidc
                ? Results.Json(new { access_token = accessToken, token_type = "Bearer", expires_in = 3600,
                    id_token = IdToken(grant.User, grant.Nonce) })
                : Results.Json(new { access_token = accessToken, token_type = "bearer", scope = "read:user,user:email" });
        });

        app.MapGet("/user", (HttpRequest request) => User(request) is { } user
            ? Results.Json(new { id = long.Parse(user.Subject, System.Globalization.CultureInfo.InvariantCulture), login = "octo" + user.Subject[..4],
                name = user.Name, avatar_url = "https://avatars.example.test/u/1", email = user.Email, padding = new string('x', Padding) })
            : Results.Unauthorized());

        app.MapGet("/user/emails", (HttpRequest request) => User(request) is { } user
            ? Results.Json(new object[]
            {
                new { email = $"other-{user.Subject}@example.test", primary = false, verified = true },
                new { email = user.Email, primary = true, verified = user.EmailVerified },
            })
            : Results.Unauthorized());

        // GitHub answers a bad code with 200 and an error member; OIDC providers with 400.
        IResult Error(string error) => IsOidc ? Results.Json(new { error }, statusCode: 400) : Results.Json(new { error });
    }

    private StandInUser? User(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal) && accessTokens.TryGetValue(header[7..], out var user) ? user : null;
    }

    private SecurityKey NewKey()
    {
        var kid = Guid.NewGuid().ToString("N")[..12];
        return Algorithm == SecurityAlgorithms.EcdsaSha256
            ? new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = kid }
            : new RsaSecurityKey(RSA.Create(2048)) { KeyId = kid };
    }

    private SigningCredentials Credentials(SecurityKey key) => key switch
    {
        SymmetricSecurityKey => new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        ECDsaSecurityKey => new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256),
        _ => new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
    };

    private static Dictionary<string, string> PublicJwk(SecurityKey key)
    {
        if (key is ECDsaSecurityKey ec)
        {
            var p = ec.ECDsa.ExportParameters(false);
            return new()
            {
                ["kty"] = "EC", ["kid"] = key.KeyId, ["use"] = "sig", ["alg"] = "ES256", ["crv"] = "P-256",
                ["x"] = Base64UrlEncoder.Encode(p.Q.X!), ["y"] = Base64UrlEncoder.Encode(p.Q.Y!),
            };
        }

        var rsa = ((RsaSecurityKey)key).Rsa.ExportParameters(false);
        return new()
        {
            ["kty"] = "RSA", ["kid"] = key.KeyId, ["use"] = "sig", ["alg"] = "RS256",
            ["n"] = Base64UrlEncoder.Encode(rsa.Modulus!), ["e"] = Base64UrlEncoder.Encode(rsa.Exponent!),
        };
    }

    private sealed record Grant(StandInUser User, string RedirectUri, string? CodeChallenge, string? Nonce);
}
