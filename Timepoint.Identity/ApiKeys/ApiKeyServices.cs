using System.ComponentModel.DataAnnotations;
using Microsoft.EntityFrameworkCore;
using Timepoint.Identity.Data;

namespace Timepoint.Identity.ApiKeys;

/// <summary>Section <c>Identity:ApiKeys</c>.</summary>
public sealed class ApiKeyOptions
{
    public const string Section = "Identity:ApiKeys";

    /// <summary>Keys a user may hold at once (not revoked, not rerolled away, not expired).</summary>
    [Range(1, 1000)]
    public int MaxActivePerUser { get; set; } = 25;

    /// <summary>The furthest an expires_at may lie ahead.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "3650.00:00:00")]
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromDays(730);

    /// <summary>
    /// The highest <c>rate_limit_per_minute</c> a key may be given: the owner's own largest budget at the edge (its reads,
    /// <c>Gateway:RateLimits:ReadsPerMinute</c>); a key's limit only ever narrows what its owner may do.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxRateLimitPerMinute { get; set; } = 300;

    /// <summary>last_used_at is written at most once per this interval per key.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan LastUsedResolution { get; set; } = TimeSpan.FromMinutes(1);
}

public static class ApiKeyServices
{
    public static WebApplicationBuilder AddApiKeys(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ApiKeyOptions>().BindConfiguration(ApiKeyOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<ApiKeyStore>();
        builder.Services.AddSingleton<ApiKeyMetrics>();
        builder.Services.AddSingleton<ApiKeyUsage>();
        builder.Services.AddHostedService<ApiKeyUsageWriter>();
        builder.Services.AddSingleton<ApiKeyRevocations>();

        // Every save that revokes, rerolls or deletes a key, or deletes or disables a user, tells the gateways,
        // whichever code path made it (UserAccounts.DeleteAsync included).
        builder.Services.AddSingleton<ApiKeyRevocationInterceptor>();
        builder.Services.ConfigureDbContext<IdentityDbContext>(
            (services, options) => options.AddInterceptors(services.GetRequiredService<ApiKeyRevocationInterceptor>()),
            ServiceLifetime.Singleton);
        return builder;
    }
}
