using System.ComponentModel.DataAnnotations;
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
        builder.Services.AddScoped<DemoUsers>();
        builder.Services.AddHostedService<DemoUsers.Sweeper>();
        builder.Services.AddScoped<SessionRevocations>();
        builder.Services.AddHostedService<SessionRevocationSweeper>();
        builder.Services.AddOptions<PruningOptions>().BindConfiguration(PruningOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<TokenPruning>();
        builder.Services.AddHostedService<TokenPruning.Schedule>();
        builder.Services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<Outbox>();
        builder.Services.AddSingleton<OutboxMonitor>();
        builder.Services.AddHealthChecks().AddCheck<OutboxMonitor>("outbox", failureStatus: Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded);
        builder.Services.AddHostedService<OutboxDelivery>();
        builder.AddServiceClient<ICreditsInternalApi>("credits", ServiceJson.Default);
        builder.AddServiceClient<IFlashInternalApi>("flash", ServiceJson.Default);
        builder.AddServiceClient<IProInternalApi>("pro", ServiceJson.Default);
        builder.AddApiKeys();

        builder.AddOpenIddictServer();
        builder.AddProviders();
        // Shared by every replica through Redis; per replica (and said so) while Redis is down.
        builder.Services.AddSharedRateLimiter<IdentityRateLimiter>();

        return builder;
    }

    private static void AddOpenIddictServer(this WebApplicationBuilder builder)
    {
        var tokens = builder.Configuration.GetSection(TokenOptions.Section).Get<TokenOptions>() ?? new TokenOptions();
        // OpenIddict takes the issuer now, before options are validated at start: check it here, naming the setting.
        Validator.ValidateObject(tokens, new ValidationContext(tokens), validateAllProperties: true);
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
                options.AddEventHandler(PublicDiscovery.Descriptor);
                options.AddEventHandler(RefreshTokenRedemption.Descriptor);
                options.UseAspNetCore()
                    .EnableTokenEndpointPassthrough()
                    .EnableAuthorizationEndpointPassthrough()
                    .DisableTransportSecurityRequirement(); // TLS ends at the edge
            });
    }
}
