using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>The secret shared by the gateway (which signs forwarded identity) and the backends (which verify it).</summary>
public sealed class GatewayTrustOptions
{
    public const string Section = "GatewayTrust";

    [Required(ErrorMessage = "GatewayTrust:Secret (env GatewayTrust__Secret) must be set.")]
    [MinLength(32, ErrorMessage = "GatewayTrust:Secret must be at least 32 characters.")]
    public string Secret { get; set; } = "";

    /// <summary>How old (or how far ahead) a signature's timestamp may be: the window a replay is remembered for.</summary>
    [Range(1, 3600)]
    public int MaxAgeSeconds { get; set; } = 60;

    /// <summary>
    /// How many state-changing requests a replica remembers within the window to refuse their replay
    /// (<see cref="GatewayReplayMemory"/>); beyond it such requests are refused 503 until entries expire.
    /// </summary>
    [Range(1, 10_000_000)]
    public int ReplayCapacity { get; set; } = 100_000;

    /// <summary>
    /// Transitional, for the one rolling deploy that brings v2 (docs/deploy.md): a backend also believes the edge's v1
    /// signature. Off by default: v1 is refused.
    /// </summary>
    public bool AcceptV1 { get; set; }
}

/// <summary>The headers the edge adds; <see cref="GatewayForward"/> signs them (v2, docs/contract.md#3-every-request).</summary>
public static class GatewayHeaders
{
    public const string UserId = "X-User-ID";
    public const string AuthMethod = "X-Auth-Method";
    public const string ApiKeyId = "X-Api-Key-Id";
    public const string RequestId = "X-Request-ID";
    public const string Timestamp = "X-Gateway-Timestamp";
    public const string Signature = "X-Gateway-Signature";

    /// <summary>Unique per forwarded request: what a backend remembers to refuse a replay.</summary>
    public const string Nonce = "X-Gateway-Nonce";

    /// <summary>The credits reservation of a metered call, and what it reserved.</summary>
    public const string ReservationId = "X-Gateway-Reservation";

    public const string Price = "X-Gateway-Price";

    /// <summary>v1's unsigned "credits were reserved" flag; refused with a v2 signature (the reservation replaces it).</summary>
    public const string Metered = "X-Gateway-Metered";

    /// <summary>The session (OpenIddict authorization) of a JWT caller, so identity can end just that one on logout.</summary>
    public const string SessionId = "X-Auth-Session";

    /// <summary>The client's address as the edge resolved it (one address, set by the edge after stripping the client's).</summary>
    public const string ForwardedFor = "X-Forwarded-For";

    /// <summary>v1's separate signature over <see cref="ForwardedFor"/>; v2 signs the address with everything else.</summary>
    public const string ClientSignature = "X-Gateway-Client-Signature";

    /// <summary>v1: <c>v1=</c> + hex HMAC-SHA256(secret, "v1\n{METHOD}\n{PATH}\n{X-User-ID}\n{timestamp}"). Only read while <see cref="GatewayTrustOptions.AcceptV1"/>.</summary>
    public static string SignV1(string secret, string method, string path, string userId, long timestamp) =>
        MacV1(secret, string.Create(CultureInfo.InvariantCulture, $"v1\n{method.ToUpperInvariant()}\n{path}\n{userId}\n{timestamp}"));

    /// <summary>v1's client-address signature: HMAC over "client-v1\n{METHOD}\n{PATH}\n{X-Forwarded-For}\n{timestamp}".</summary>
    public static string SignClientV1(string secret, string method, string path, string address, long timestamp) =>
        MacV1(secret, string.Create(CultureInfo.InvariantCulture, $"client-v1\n{method.ToUpperInvariant()}\n{path}\n{address}\n{timestamp}"));

    private static string MacV1(string secret, string payload) =>
        "v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(payload)));

    internal static bool VerifyV1(string? timestamp, string? signature, DateTimeOffset now, TimeSpan maxAge, Func<long, string> sign)
    {
        if (signature is null || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return false;
        }

        var age = now - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, 253402300799));
        if (age.Duration() > maxAge)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(sign(seconds));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(signature));
    }
}

/// <summary>Claims a backend reads off a verified gateway identity.</summary>
public static class GatewayClaims
{
    public const string Scheme = "Gateway";
    public const string UserId = "sub";
    public const string AuthMethod = "auth_method";
    public const string ApiKeyId = "api_key_id";
    public const string SessionId = "sid";
    public const string ReservationId = "reservation_id";
    public const string Price = "price";

    /// <summary>The audience of every platform access token: identity issues it, the edge requires it.</summary>
    public const string TokenAudience = "timepoint-api";

    /// <summary>The caller's user id, when the gateway vouched for one.</summary>
    public static Guid? GetUserId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(UserId), out var id) ? id : null;

    /// <summary>True when the gateway reserved credits for this request (a signed <c>X-Gateway-Reservation</c>).</summary>
    public static bool IsMetered(this ClaimsPrincipal user) => user.FindFirst(ReservationId) is not null;
}

public static class GatewayTrustExtensions
{
    /// <summary>
    /// Backends trust <c>X-User-ID</c> only with a valid, fresh gateway signature. The secret is validated at start.
    /// </summary>
    public static TBuilder AddGatewayTrust<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddGatewayTrustSecret();
        builder.Services.AddAuthentication(GatewayClaims.Scheme)
            .AddScheme<AuthenticationSchemeOptions, GatewayAuthenticationHandler>(GatewayClaims.Scheme, null);
        builder.Services.AddAuthorization();
        return builder;
    }

    /// <summary>The shared secret alone (validated at start): what the gateway needs to sign, and backends to verify.</summary>
    public static TBuilder AddGatewayTrustSecret<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<GatewayTrustOptions>()
            .BindConfiguration(GatewayTrustOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton(services => new GatewayReplayMemory(
            services.GetRequiredService<IOptions<GatewayTrustOptions>>().Value.ReplayCapacity, services.GetRequiredService<TimeProvider>()));
        return builder;
    }

    /// <summary>
    /// Authenticates from the signed headers and refuses, on every route, a request whose gateway headers the edge did not
    /// sign (403 problem+json): an identity that skipped the edge is not quietly treated as anonymous.
    /// </summary>
    public static WebApplication UseGatewayTrust(this WebApplication app)
    {
        app.UseGatewayVerification();
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    /// <summary>
    /// Checks the edge's signature once, before anything rewrites the request's method or path, and makes
    /// <see cref="ConnectionInfo.RemoteIpAddress"/> the client the edge vouches for: an <c>X-Forwarded-For</c> is believed
    /// only under a valid v2 signature; otherwise the header is dropped and the connection's address stays (a caller that
    /// skipped the edge cannot pick its address). Identity calls it first; <see cref="UseGatewayTrust"/> calls it too (a
    /// request is checked once).
    /// </summary>
    public static WebApplication UseGatewayClientAddress(this WebApplication app) => app.UseGatewayVerification();

    private static WebApplication UseGatewayVerification(this WebApplication app)
    {
        var trust = app.Services.GetRequiredService<IOptions<GatewayTrustOptions>>();
        var replays = app.Services.GetRequiredService<GatewayReplayMemory>();
        var clock = app.Services.GetRequiredService<TimeProvider>();
        app.Use(async (context, next) =>
        {
            if (context.Features.Get<GatewayVerdict>() is null)
            {
                var verdict = GatewayVerification.Verify(context.Request, trust.Value, replays, clock.GetUtcNow());
                context.Features.Set(verdict);
                if (verdict.Refused)
                {
                    await Problems.WriteAsync(context, verdict.Unavailable
                        ? Problems.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.UpstreamUnavailable, "Service unavailable", verdict.Refusal)
                        : Problems.Forbidden(verdict.Refusal!));
                    return;
                }

                var headers = context.Request.Headers;
                if (verdict.Forward is { ClientAddress.Length: > 0 } forward)
                {
                    context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse(forward.ClientAddress);
                }
                else
                {
                    headers.Remove(GatewayHeaders.ForwardedFor);
                }

                headers.Remove(GatewayHeaders.ClientSignature);
            }

            await next(context);
        });
        return app;
    }

    /// <summary>The endpoints need a user who signed in with a JWT (not an API key): the contract's <c>jwt</c> routes.</summary>
    public static TBuilder RequireJwtUser<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(policy => policy.AddAuthenticationSchemes(GatewayClaims.Scheme)
            .RequireAuthenticatedUser()
            .RequireClaim(GatewayClaims.AuthMethod, "jwt"))
            .WithMetadata(new CallerCredentials(ServiceOpenApi.Bearer));

    /// <summary>
    /// A metered endpoint: it works only for a call the edge reserved credits for (a signed reservation and price), so a
    /// request that skipped the charge gets no work done (403).
    /// </summary>
    public static TBuilder RequireGatewayCharge<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(policy => policy.AddAuthenticationSchemes(GatewayClaims.Scheme)
            .RequireAuthenticatedUser()
            .RequireClaim(GatewayClaims.ReservationId));

    /// <summary>The endpoints need a user the gateway vouched for; none is a 401 <c>auth.missing</c>.</summary>
    public static TBuilder RequireGatewayUser<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(policy => policy.AddAuthenticationSchemes(GatewayClaims.Scheme).RequireAuthenticatedUser())
            .WithMetadata(new CallerCredentials(ServiceOpenApi.Bearer, ServiceOpenApi.ApiKey));
}

internal sealed class GatewayAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>Claims from the verdict <c>UseGatewayTrust</c> reached (a refused request never gets here).</summary>
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Context.Features.Get<GatewayVerdict>() is not { Forward: { UserId.Length: > 0 } forward })
        {
            return Task.FromResult(Context.Features.Get<GatewayVerdict>() is null
                ? AuthenticateResult.Fail("The gateway signature was not checked (UseGatewayTrust missing).")
                : AuthenticateResult.NoResult());
        }

        List<Claim> claims = [new(GatewayClaims.UserId, forward.UserId), new(GatewayClaims.AuthMethod, forward.AuthMethod)];
        foreach (var (type, value) in new[]
        {
            (GatewayClaims.ApiKeyId, forward.ApiKeyId), (GatewayClaims.SessionId, forward.SessionId),
            (GatewayClaims.ReservationId, forward.ReservationId), (GatewayClaims.Price, forward.Price),
        })
        {
            if (value.Length > 0)
            {
                claims.Add(new Claim(type, value));
            }
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, GatewayClaims.Scheme, GatewayClaims.UserId, null));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, GatewayClaims.Scheme)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, Problems.Unauthorized(ErrorCodes.AuthMissing, "Authentication is required."));

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, Problems.Forbidden("The caller may not do this."));
}
