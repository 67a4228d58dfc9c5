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

    /// <summary>How old (or how far ahead) a signature's timestamp may be.</summary>
    [Range(1, 3600)]
    public int MaxAgeSeconds { get; set; } = 300;
}

/// <summary>The headers the edge adds, and the <c>v1</c> signature over the identity it forwards (docs/contract.md#3-every-request).</summary>
public static class GatewayHeaders
{
    public const string UserId = "X-User-ID";
    public const string AuthMethod = "X-Auth-Method";
    public const string ApiKeyId = "X-Api-Key-Id";
    public const string RequestId = "X-Request-ID";
    public const string Timestamp = "X-Gateway-Timestamp";
    public const string Signature = "X-Gateway-Signature";
    public const string Metered = "X-Gateway-Metered";

    /// <summary>The session (OpenIddict authorization) of a JWT caller, so identity can end just that one on logout.</summary>
    public const string SessionId = "X-Auth-Session";

    /// <summary>The client's address as the edge resolved it (one address, set by the edge after stripping the client's).</summary>
    public const string ForwardedFor = "X-Forwarded-For";

    /// <summary>The edge's signature over <see cref="ForwardedFor"/>: <see cref="SignClient"/>.</summary>
    public const string ClientSignature = "X-Gateway-Client-Signature";

    /// <summary><c>v1=</c> + hex HMAC-SHA256(secret, "v1\n{METHOD}\n{PATH}\n{X-User-ID}\n{timestamp}").</summary>
    public static string Sign(string secret, string method, string path, string userId, long timestamp) =>
        Mac(secret, string.Create(CultureInfo.InvariantCulture, $"v1\n{method.ToUpperInvariant()}\n{path}\n{userId}\n{timestamp}"));

    /// <summary>
    /// <c>v1=</c> + hex HMAC-SHA256(secret, "client-v1\n{METHOD}\n{PATH}\n{X-Forwarded-For}\n{timestamp}"): the client
    /// address the edge vouches for, on every request it forwards (anonymous ones too). Its own prefix, so it can never
    /// pass for an identity signature.
    /// </summary>
    public static string SignClient(string secret, string method, string path, string address, long timestamp) =>
        Mac(secret, string.Create(CultureInfo.InvariantCulture, $"client-v1\n{method.ToUpperInvariant()}\n{path}\n{address}\n{timestamp}"));

    /// <summary>Checks a signature and its age; constant time in the signature's content.</summary>
    public static bool Verify(string secret, string method, string path, string userId, string? timestamp, string? signature,
        DateTimeOffset now, TimeSpan maxAge) =>
        Check(timestamp, signature, now, maxAge, seconds => Sign(secret, method, path, userId, seconds));

    /// <summary>Checks a <see cref="SignClient"/> signature and its age.</summary>
    public static bool VerifyClient(string secret, string method, string path, string address, string? timestamp, string? signature,
        DateTimeOffset now, TimeSpan maxAge) =>
        Check(timestamp, signature, now, maxAge, seconds => SignClient(secret, method, path, address, seconds));

    private static string Mac(string secret, string payload) =>
        "v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(payload)));

    private static bool Check(string? timestamp, string? signature, DateTimeOffset now, TimeSpan maxAge, Func<long, string> sign)
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
    public const string Metered = "metered";
    public const string SessionId = "sid";

    /// <summary>The audience of every platform access token: identity issues it, the edge requires it.</summary>
    public const string TokenAudience = "timepoint-api";

    /// <summary>The caller's user id, when the gateway vouched for one.</summary>
    public static Guid? GetUserId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(UserId), out var id) ? id : null;

    /// <summary>True when the gateway reserved credits for this request (<c>X-Gateway-Metered: true</c>, signed identity only).</summary>
    public static bool IsMetered(this ClaimsPrincipal user) => user.HasClaim(Metered, "true");
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
        return builder;
    }

    /// <summary>
    /// Authenticates from the signed headers and refuses, on every route, a request whose identity the gateway did not sign
    /// (403 problem+json): an identity that skipped the edge is not quietly treated as anonymous.
    /// </summary>
    public static WebApplication UseGatewayTrust(this WebApplication app)
    {
        app.UseAuthentication();
        app.Use(async (context, next) =>
        {
            var result = await context.AuthenticateAsync(GatewayClaims.Scheme);
            if (result.Failure is not null)
            {
                await Problems.WriteAsync(context, Problems.Forbidden("The caller's identity was not signed by the gateway."));
                return;
            }

            await next(context);
        });
        app.UseAuthorization();
        return app;
    }

    /// <summary>
    /// Makes <see cref="ConnectionInfo.RemoteIpAddress"/> the client the edge vouches for: an <c>X-Forwarded-For</c> of one
    /// address is believed only with the edge's fresh <see cref="GatewayHeaders.ClientSignature"/> over it; otherwise the
    /// header is dropped and the connection's address stays (a caller that skipped the edge cannot pick its address).
    /// Runs before anything that rewrites the request's method or path.
    /// </summary>
    public static WebApplication UseGatewayClientAddress(this WebApplication app)
    {
        var trust = app.Services.GetRequiredService<IOptions<GatewayTrustOptions>>();
        var clock = app.Services.GetRequiredService<TimeProvider>();
        app.Use((context, next) =>
        {
            var headers = context.Request.Headers;
            var forwarded = headers[GatewayHeaders.ForwardedFor];
            if (forwarded.Count == 1 && System.Net.IPAddress.TryParse(forwarded[0], out var client)
                && headers[GatewayHeaders.Timestamp].Count == 1 && headers[GatewayHeaders.ClientSignature].Count == 1
                && GatewayHeaders.VerifyClient(trust.Value.Secret, context.Request.Method, context.Request.Path.Value ?? "/", forwarded[0]!,
                    headers[GatewayHeaders.Timestamp][0], headers[GatewayHeaders.ClientSignature][0],
                    clock.GetUtcNow(), TimeSpan.FromSeconds(trust.Value.MaxAgeSeconds)))
            {
                context.Connection.RemoteIpAddress = client;
            }
            else
            {
                headers.Remove(GatewayHeaders.ForwardedFor);
            }

            headers.Remove(GatewayHeaders.ClientSignature);
            return next(context);
        });
        return app;
    }

    /// <summary>The endpoints need a user who signed in with a JWT (not an API key): the contract's <c>jwt</c> routes.</summary>
    public static TBuilder RequireJwtUser<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(policy => policy.AddAuthenticationSchemes(GatewayClaims.Scheme)
            .RequireAuthenticatedUser()
            .RequireClaim(GatewayClaims.AuthMethod, "jwt"))
            .WithMetadata(new CallerCredentials(ServiceOpenApi.Bearer));

    /// <summary>The endpoints need a user the gateway vouched for; none is a 401 <c>auth.missing</c>.</summary>
    public static TBuilder RequireGatewayUser<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(policy => policy.AddAuthenticationSchemes(GatewayClaims.Scheme).RequireAuthenticatedUser())
            .WithMetadata(new CallerCredentials(ServiceOpenApi.Bearer, ServiceOpenApi.ApiKey));
}

internal sealed class GatewayAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<GatewayTrustOptions> trust,
    TimeProvider clock) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var headers = Request.Headers;
        var userIds = headers[GatewayHeaders.UserId];
        if (userIds.Count == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var userId = userIds.Count == 1 ? userIds[0] : null;
        if (userId is null || !Guid.TryParse(userId, out _) ||
            headers[GatewayHeaders.Timestamp].Count != 1 || headers[GatewayHeaders.Signature].Count != 1 ||
            !GatewayHeaders.Verify(trust.Value.Secret, Request.Method, Request.Path.Value ?? "/", userId,
                headers[GatewayHeaders.Timestamp][0], headers[GatewayHeaders.Signature][0],
                clock.GetUtcNow(), TimeSpan.FromSeconds(trust.Value.MaxAgeSeconds)))
        {
            return Task.FromResult(AuthenticateResult.Fail("X-User-ID without a valid gateway signature."));
        }

        List<Claim> claims =
        [
            new(GatewayClaims.UserId, userId),
            new(GatewayClaims.AuthMethod, headers[GatewayHeaders.AuthMethod].FirstOrDefault() ?? "jwt"),
        ];
        if (headers[GatewayHeaders.ApiKeyId].FirstOrDefault() is { Length: > 0 } keyId)
        {
            claims.Add(new Claim(GatewayClaims.ApiKeyId, keyId));
        }

        if (headers[GatewayHeaders.SessionId].FirstOrDefault() is { Length: > 0 and <= 100 } sessionId)
        {
            claims.Add(new Claim(GatewayClaims.SessionId, sessionId));
        }

        if (string.Equals(headers[GatewayHeaders.Metered].FirstOrDefault(), "true", StringComparison.OrdinalIgnoreCase))
        {
            claims.Add(new Claim(GatewayClaims.Metered, "true"));
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, GatewayClaims.Scheme, GatewayClaims.UserId, null));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, GatewayClaims.Scheme)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, Problems.Unauthorized(ErrorCodes.AuthMissing, "Authentication is required."));

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, Problems.Forbidden("The caller may not do this."));
}
