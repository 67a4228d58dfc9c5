using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Gateway.Tests;

/// <summary>A small real HTTP server on a loopback port, for the gateway to call as it would call a service.</summary>
public abstract class StandIn : IAsyncDisposable
{
    private WebApplication? app;

    public Uri Address { get; private set; } = null!;

    public int Requests;

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        app = builder.Build();
        app.Use((context, next) =>
        {
            // The edge's once-a-second read of revoked sessions is background noise, not a request a test makes happen.
            if (!context.Request.Path.StartsWithSegments("/internal/identity/sessions"))
            {
                Interlocked.Increment(ref Requests);
            }

            return next(context);
        });
        Map(app);
        await app.StartAsync();
        Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async Task StopAsync()
    {
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
            app = null;
        }
    }

    protected abstract void Map(WebApplication app);

    public ValueTask DisposeAsync() => new(StopAsync());
}

/// <summary>Speaks identity's discovery and JWKS; signs tokens the way identity does (RS256, at+jwt).</summary>
public sealed class StandInIdentity : StandIn
{
    public const string Issuer = "http://edge.test/";

    public Dictionary<string, RsaSecurityKey> Keys { get; } = new() { ["k1"] = NewKey("k1") };

    /// <summary>API keys this identity knows: key -> verdict body. Calls to the verify endpoint are counted.</summary>
    public Dictionary<string, object> ApiKeys { get; } = [];

    public int Verifications;

    /// <summary>How long identity takes to answer a verification (a slow identity makes concurrent callers overlap).</summary>
    public TimeSpan VerifyDelay { get; set; } = TimeSpan.Zero;

    /// <summary>Revoked sessions identity lists (session -> when its tokens expire); reads of the list are counted.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> RevokedSessions { get; } = new();

    public int RevocationReads;

    /// <summary>While true the revoked-session list answers 503, as an identity that is starting or down would.</summary>
    public bool RevocationsDown { get; set; }

    public static RsaSecurityKey NewKey(string kid) => new(RSA.Create(2048)) { KeyId = kid };

    protected override void Map(WebApplication app)
    {
        app.MapGet("/.well-known/openid-configuration", (HttpContext context) => Results.Json(new Dictionary<string, string>
        {
            ["issuer"] = Issuer,
            ["jwks_uri"] = $"{Issuer}.well-known/jwks",
        }));
        app.MapPost("/internal/identity/api-keys/verify", async (HttpContext context) =>
        {
            Interlocked.Increment(ref Verifications);
            await Task.Delay(VerifyDelay);
            var key = (await context.Request.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
            return Results.Json(ApiKeys.TryGetValue(key, out var verdict) ? verdict : new { valid = false, reason = "unknown" });
        });
        app.MapGet("/internal/identity/sessions/revoked", () =>
        {
            Interlocked.Increment(ref RevocationReads);
            return RevocationsDown
                ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable)
                : Results.Json(new
                {
                    cursor = DateTimeOffset.UtcNow.AddSeconds(-30),
                    revocations = RevokedSessions.Select(r => new { session = r.Key, expires_at = r.Value }).ToArray(),
                });
        });
        app.MapGet("/.well-known/jwks", () => Results.Json(new
        {
            keys = Keys.Values.Select(k => JsonSerializer.SerializeToElement(JsonWebKeyConverter.ConvertFromRSASecurityKey(
                new RsaSecurityKey(k.Rsa.ExportParameters(false)) { KeyId = k.KeyId }))).ToArray(),
        }));
    }

    public string Token(Guid user, Action<SecurityTokenDescriptor>? change = null, string kid = "k1", string? session = null)
    {
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = "timepoint-api",
            TokenType = "at+jwt",
            IssuedAt = DateTime.UtcNow,
            NotBefore = DateTime.UtcNow,
            Expires = DateTime.UtcNow.AddMinutes(15),
            Claims = new Dictionary<string, object> { ["sub"] = user.ToString(), ["scope"] = "api offline_access", ["tier"] = "free" },
            SigningCredentials = new SigningCredentials(Keys.GetValueOrDefault(kid) ?? NewKey(kid), SecurityAlgorithms.RsaSha256),
        };
        if (session is not null)
        {
            descriptor.Claims["oi_au_id"] = session;
        }

        change?.Invoke(descriptor);
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }
}

/// <summary>A backend that answers with the headers it received.</summary>
public sealed class EchoBackend : StandIn
{
    /// <summary>What the edge vouched for on an echoed request, read as a backend reads it (v2: method, path and query, headers).</summary>
    public static GatewayForward Forward(JsonElement echoed)
    {
        var headers = echoed.GetProperty("headers");
        string One(string name) => headers.TryGetProperty(name.ToLowerInvariant(), out var values) ? values.EnumerateArray().Single().GetString()! : "";
        return new GatewayForward(echoed.GetProperty("method").GetString()!,
            echoed.GetProperty("path").GetString() + echoed.GetProperty("query").GetString(), One(GatewayHeaders.RequestId),
            One(GatewayHeaders.Nonce), long.Parse(One(GatewayHeaders.Timestamp), System.Globalization.CultureInfo.InvariantCulture),
            One(GatewayHeaders.ForwardedFor), One(GatewayHeaders.UserId), One(GatewayHeaders.AuthMethod), One(GatewayHeaders.ApiKeyId),
            One(GatewayHeaders.SessionId), One(GatewayHeaders.ReservationId), One(GatewayHeaders.Price));
    }

    /// <summary>Whether <paramref name="forward"/> is what the echoed request's v2 signature covers.</summary>
    public static bool SignedAs(JsonElement echoed, GatewayForward forward, string secret) =>
        echoed.GetProperty("headers").GetProperty("x-gateway-signature").EnumerateArray().Single().GetString() == forward.Sign(secret);

    protected override void Map(WebApplication app) =>
        app.Map("/{**path}", async (HttpContext context) =>
        {
            if (int.TryParse(context.Request.Headers["X-Test-Delay-Ms"], out var delay))
            {
                await Task.Delay(delay, context.RequestAborted);
            }

            return Results.Json(new
        {
            path = context.Request.Path.Value,
            query = context.Request.QueryString.Value,
            method = context.Request.Method,
            headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToArray()),
            });
        });
}
