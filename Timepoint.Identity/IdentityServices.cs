using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.StackExchangeRedis;
using Microsoft.Extensions.Options;
using OpenIddict.Server;
using StackExchange.Redis;
using Timepoint.Identity.ApiKeys;
using Timepoint.Identity.Auth;
using Timepoint.Identity.Data;
using Timepoint.Identity.Downstream;
using Timepoint.Identity.Providers;
using Timepoint.Identity.Sessions;
using Timepoint.Identity.Tokens;
using Timepoint.Identity.Users;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Timepoint.Identity;

public static class IdentityServices
{
    public static WebApplicationBuilder AddIdentityServices(this WebApplicationBuilder builder)
    {
        // User-initiated transactions (outbox with the change) rule out EF's retrying strategy.
        builder.AddNpgsqlDbContext<IdentityDbContext>("identitydb", settings => settings.DisableRetry = true);
        // Identity needs Redis (data-protection keys, revocation fan-out): unready without it, and told so within seconds.
        builder.AddRedisClient("redis", settings => settings.DisableHealthChecks = true);
        builder.Services.AddHealthChecks().AddCheck<RedisPingCheck>("redis");
        builder.Services.AddDataProtection().SetApplicationName("timepoint-identity");
        builder.Services.AddOptions<KeyManagementOptions>().Configure<IConnectionMultiplexer>((options, redis) =>
            options.XmlRepository = new RedisXmlRepository(() => redis.GetDatabase(), "timepoint:identity:data-protection-keys"));

        builder.Services.AddOptions<TokenOptions>().BindConfiguration(TokenOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<DemoOptions>().BindConfiguration(DemoOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<ClientRegistrations>().BindConfiguration(ClientRegistrations.Section);

        builder.Services.AddSingleton<DatabaseMigrator>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DatabaseMigrator>());
        builder.Services.AddHealthChecks().AddCheck<DatabaseMigrator>("migrations");
        builder.Services.AddSingleton<SigningKeyStore>();
        builder.Services.AddSingleton<IStartupSeeder>(sp => sp.GetRequiredService<SigningKeyStore>());
        builder.Services.AddScoped<IStartupSeeder, ClientSeeder>();
        builder.Services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, SigningKeyStore.ConfigureServer>();
        builder.Services.AddHostedService<SigningKeyStore.Refresher>();

        builder.Services.AddScoped<UserAccounts>();
        builder.Services.AddScoped<SessionRevocations>();
        builder.Services.AddHostedService<SessionRevocationSweeper>();
        builder.Services.AddSingleton<Outbox>();
        builder.Services.AddHostedService<OutboxDelivery>();
        builder.AddServiceClient<ICreditsInternalApi>("credits", ServiceJson.Default);
        builder.AddServiceClient<IFlashInternalApi>("flash", ServiceJson.Default);
        builder.AddServiceClient<IProInternalApi>("pro", ServiceJson.Default);
        builder.AddApiKeys();

        builder.AddOpenIddictServer();
        builder.AddProviders();
        builder.AddDemoRateLimit();

        return builder;
    }

    private static void AddOpenIddictServer(this WebApplicationBuilder builder)
    {
        var tokens = builder.Configuration.GetSection(TokenOptions.Section).Get<TokenOptions>() ?? new TokenOptions();
        builder.Services.AddOpenIddict()
            .AddCore(options => options.UseEntityFrameworkCore().UseDbContext<IdentityDbContext>())
            .AddServer(options =>
            {
                options.SetIssuer(tokens.Issuer)
                    .SetTokenEndpointUris(["connect/token", .. AuthRoutes.TokenEndpointPaths])
                    .SetAuthorizationEndpointUris("connect/authorize")
                    .SetRevocationEndpointUris("connect/revoke")
                    .SetJsonWebKeySetEndpointUris(".well-known/jwks");

                options.AllowRefreshTokenFlow()
                    .AllowAuthorizationCodeFlow()
                    .AllowClientCredentialsFlow()
                    .RequireProofKeyForCodeExchange();
                foreach (var grant in AuthRoutes.CustomGrants)
                {
                    options.AllowCustomFlow(grant);
                }

                // First-party apps sign in without a client id; registered clients still authenticate.
                options.AcceptAnonymousClients();
                options.RegisterScopes(TokenPrincipal.ApiScope, Scopes.OfflineAccess);

                // Access tokens are JWS the edge verifies with the JWKS alone; refresh tokens are opaque references.
                options.DisableAccessTokenEncryption();
                options.UseReferenceRefreshTokens();
                options.SetAccessTokenLifetime(tokens.AccessTokenLifetime)
                    .SetRefreshTokenLifetime(tokens.RefreshTokenLifetime)
                    .SetRefreshTokenReuseLeeway(tokens.RefreshTokenReuseLeeway);

                // PKCE with S256 only.
                options.Configure(o => o.CodeChallengeMethods.Remove(CodeChallengeMethods.Plain));

                options.AddEventHandler(AuthRoutes.ApplyJsonTokenResponse.Descriptor);
                options.AddEventHandler(ListReusedRefreshTokenFamily.Descriptor);
                options.UseAspNetCore()
                    .EnableTokenEndpointPassthrough()
                    .EnableAuthorizationEndpointPassthrough()
                    .DisableTransportSecurityRequirement(); // TLS ends at the edge
            });
    }

    private static void AddDemoRateLimit(this WebApplicationBuilder builder)
    {
        builder.Services.AddRateLimiter(options =>
        {
            options.AddPolicy(AuthApi.DemoRateLimit, context =>
            {
                var demo = context.RequestServices.GetRequiredService<IOptions<DemoOptions>>().Value;
                return RateLimitPartition.GetFixedWindowLimiter(context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = demo.PermitsPerMinute, Window = TimeSpan.FromMinutes(1) });
            });
            options.OnRejected = async (context, _) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
                var seconds = (int)Math.Ceiling(retryAfter.TotalSeconds);
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await Problems.WriteAsync(context.HttpContext, Problems.Create(StatusCodes.Status429TooManyRequests,
                    ErrorCodes.RateLimited, "Too many requests", $"Demo sign-in is limited; retry in {seconds} s."));
            };
        });
    }
}
