using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.EndToEnd.Tests;

/// <summary>The platform with Google sign-in pointed at a stand-in Google (a JWKS on a loopback port of this process).</summary>
public sealed class GoogleSignInPlatform : PlatformFixture, IDisposable
{
    public const string ClientId = "e2e-google-client.apps.example.test";

    private readonly WebApplication google;

    public GoogleSignInPlatform()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        google = builder.Build();
        var rsa = Key.Rsa.ExportParameters(false);
        google.MapGet("/jwks", () => Results.Json(new
        {
            keys = new[] { new { kty = "RSA", kid = Key.KeyId, use = "sig", alg = "RS256",
                n = Base64UrlEncoder.Encode(rsa.Modulus!), e = Base64UrlEncoder.Encode(rsa.Exponent!) } },
        }));
        google.StartAsync().GetAwaiter().GetResult();
        Issuer = google.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
    }

    public RsaSecurityKey Key { get; } = new(RSA.Create(2048)) { KeyId = "e2e-google-key" };

    public string Issuer { get; }

    protected override string[] Settings =>
    [
        // Later settings win: a first sign-in on a busy 2-core machine (cold identity) may take longer than the usual 5 s.
        "Gateway:UpstreamTimeout=00:00:30",
        $"Parameters:google-client-id={ClientId}",
        $"Identity:Providers:Google:Issuer={Issuer}",
        $"Identity:Providers:Google:JwksUri={Issuer}/jwks",
    ];

    public string IdToken(string subject, string email) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = Issuer,
        Audience = ClientId,
        Claims = new Dictionary<string, object> { ["sub"] = subject, ["email"] = email, ["email_verified"] = true, ["name"] = "E2E Google" },
        Expires = DateTime.UtcNow.AddMinutes(10),
        SigningCredentials = new SigningCredentials(Key, SecurityAlgorithms.RsaSha256),
    });

    public void Dispose() => google.DisposeAsync().AsTask().GetAwaiter().GetResult();
}

/// <summary>Native provider sign-in through the edge, as the iOS and Android apps do it.</summary>
public sealed class ProviderSignInEdgeTests(GoogleSignInPlatform platform) : IClassFixture<GoogleSignInPlatform>
{
    [Fact]
    public async Task Native_google_sign_in_through_the_gateway_yields_a_token_pair_that_works_on_me()
    {
        var email = $"e2e-google-{Guid.NewGuid():N}@example.test";
        var idToken = platform.IdToken(Guid.NewGuid().ToString("N"), email);

        using var signIn = await platform.Gateway.PostAsJsonAsync("/api/v1/auth/google", new { id_token = idToken });

        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        var pair = await signIn.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("bearer", pair.GetProperty("token_type").GetString());
        using var me = new HttpRequestMessage(HttpMethod.Get, "/api/v1/auth/me");
        me.Headers.Authorization = new("Bearer", pair.GetProperty("access_token").GetString());
        using var profile = await platform.Gateway.SendAsync(me);
        Assert.Equal(HttpStatusCode.OK, profile.StatusCode);
        Assert.Equal(email, (await profile.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("email").GetString());

        // Apple is not configured on this platform: a clear 503, not a crash.
        using var apple = await platform.Gateway.PostAsJsonAsync("/api/v1/auth/apple", new { identity_token = idToken });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, apple.StatusCode);
        Assert.Equal("provider_not_configured", (await apple.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_forged_google_token_through_the_gateway_is_401()
    {
        var forged = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = platform.Issuer,
            Audience = GoogleSignInPlatform.ClientId,
            Claims = new Dictionary<string, object> { ["sub"] = "forged", ["email"] = "victim@example.test", ["email_verified"] = true },
            Expires = DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(RSA.Create(2048)) { KeyId = platform.Key.KeyId },
                SecurityAlgorithms.RsaSha256),
        });

        using var response = await platform.Gateway.PostAsJsonAsync("/api/v1/auth/google", new { id_token = forged });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("auth.jwt_invalid", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }
}
