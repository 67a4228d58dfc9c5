using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Timepoint.Gateway.Auth;
using Timepoint.Gateway.Limits;
using Timepoint.Gateway.Metering;
using Timepoint.Gateway.Proxy;
using Timepoint.Gateway.Routing;

namespace Timepoint.Gateway;

public static class GatewayServices
{
    public const string CorsPolicy = "edge";

    public static WebApplicationBuilder AddGatewayServices(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidation>();
        builder.Services.AddSingleton(sp => TrustedProxies.Parse(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.TrustedProxies, out _));
        builder.AddGatewayTrustSecret();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddSingleton<Proxy.EdgeRequestLog>();

        // Limits fail open when Redis is down, so Redis makes the edge degraded, never unready:
        // taking every replica out of rotation would turn a cache outage into a full outage.
        builder.AddRedisClient("redis", settings => settings.DisableHealthChecks = true);
        builder.Services.AddHealthChecks().AddCheck<RedisPingCheck>("redis", HealthStatus.Degraded);

        // JWTs: identity's keys, cached; no call to identity per request.
        var options = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        builder.Services.AddHttpClient(IdentityKeys.HttpClientName, client =>
        {
            client.BaseAddress = new Uri(options.Destinations.GetValueOrDefault(EdgeRoutes.Identity) ?? "http://identity");
            client.Timeout = TimeSpan.FromSeconds(5);
        });
        builder.Services.AddSingleton<IdentityKeys>();

        // The edge's OpenAPI document: each backend's own, read when first asked for and merged through the routing table.
        builder.Services.AddHttpClient(EdgeOpenApiDocument.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(10));
        builder.Services.AddSingleton<EdgeOpenApiDocument>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<IdentityKeys>());
        builder.Services.AddSingleton<JwtValidator>();

        // Revoked sessions: read from identity before this replica accepts any access token, then every second.
        builder.AddServiceClient<IIdentitySessionsApi>("identity", ServiceJson.Default).ConfigureHttpClient(c => c.Timeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton<SessionRevocationList>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SessionRevocationList>());
        builder.Services.AddHealthChecks().AddCheck<SessionRevocationList>("revocations");

        // API keys: verified by identity, verdicts cached here, revocations heard through Redis.
        builder.AddServiceClient<IIdentityApiKeysApi>("identity", ServiceJson.Default).ConfigureHttpClient(c => c.Timeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton<ApiKeyVerifier>();
        builder.Services.AddSingleton<IApiKeyVerifier>(sp => sp.GetRequiredService<ApiKeyVerifier>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ApiKeyVerifier>());

        builder.AddServiceClient<ICreditsMeteringApi>("credits", ServiceJson.Default).ConfigureHttpClient(c => c.Timeout = TimeSpan.FromSeconds(10));
        builder.Services.AddSingleton<IdempotentOutcomes>();

        builder.Services.AddSingleton<EdgeAuthentication>();
        builder.Services.AddSharedRateLimiter<EdgeRateLimiter>();
        builder.Services.AddSingleton<RateLimiting>();
        builder.Services.AddSingleton<CreditsSettlement>();
        builder.Services.AddSingleton<CreditsMetering>();
        builder.Services.AddSingleton<UpstreamErrors>();
        builder.Services.AddSingleton<EdgePipeline>();

        var (routes, clusters) = ProxyConfig.Build(options);
        builder.Services.AddSingleton<IdentityForwarding>();
        builder.Services.AddReverseProxy()
            .LoadFromMemory(routes, clusters)
            .AddServiceDiscoveryDestinationResolver();
        builder.Services.AddSingleton<Yarp.ReverseProxy.Transforms.Builder.ITransformProvider>(sp => sp.GetRequiredService<IdentityForwarding>());

        builder.Services.AddCors(cors => cors.AddPolicy(CorsPolicy, policy => policy
            .SetIsOriginAllowed(origin => CorsOrigins.Allows(options.CorsOrigins, origin))
            .AllowAnyHeader()
            .AllowAnyMethod()
            .WithExposedHeaders("X-Request-ID", RateLimiting.LimitHeader, RateLimiting.RemainingHeader, RateLimiting.ResetHeader, "Retry-After",
                "X-Credits-Charged", "X-Balance-After")
            .SetPreflightMaxAge(TimeSpan.FromMinutes(10))));

        // Explicit request limits: Kestrel answers 431 / 413 beyond them.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            kestrel.Limits.MaxRequestHeaderCount = 64;
            kestrel.Limits.MaxRequestBodySize = 10 * 1024 * 1024;
            kestrel.Limits.MaxRequestLineSize = 8 * 1024;
            kestrel.AddServerHeader = false;
        });

        return builder;
    }
}

public static class CorsOrigins
{
    /// <summary>
    /// Exact origins, or <c>https://*.example.com</c> for any subdomain of example.com over https on the scheme's default
    /// port only; another port must be named (<c>https://*.example.com:8443</c>). An origin with a path, query or user
    /// info is no origin and matches nothing.
    /// </summary>
    public static bool Allows(IEnumerable<string> configured, string origin)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.PathAndQuery != "/" || uri.UserInfo.Length > 0
            || origin.EndsWith('/'))
        {
            return false;
        }

        foreach (var entry in configured)
        {
            if (string.Equals(entry.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            var wildcard = entry.IndexOf("://*.", StringComparison.Ordinal);
            if (wildcard <= 0 || !Uri.TryCreate(entry.Remove(wildcard + 3, 2).TrimEnd('/'), UriKind.Absolute, out var pattern))
            {
                continue;
            }

            // pattern is the entry without "*.": its host is the parent domain, its port the one allowed.
            if (string.Equals(pattern.Scheme, uri.Scheme, StringComparison.OrdinalIgnoreCase) && pattern.Port == uri.Port
                && uri.Host.EndsWith("." + pattern.Host, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
