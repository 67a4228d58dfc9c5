using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Timepoint.Identity.Auth;

/// <summary>
/// Demo sign-ins a minute per client address (<see cref="DemoOptions.PermitsPerMinute"/>), counted in Redis so that all
/// identity replicas together admit no more than the limit. Redis down: per replica, with a warning and
/// <c>timepoint.identity.ratelimit.fallbacks</c>, like the edge's limits.
/// </summary>
public sealed class DemoRateLimit(IdentityRateLimiter limiter, IOptions<DemoOptions> options) : IEndpointFilter
{
    public const string Bucket = "identity-demo";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        // The address the edge saw (ForwardedHeaders has put it here); never more than one hop of X-Forwarded-For.
        var address = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var decision = await limiter.HitAsync(Bucket, address, options.Value.PermitsPerMinute);
        if (decision.Allowed)
        {
            return await next(context);
        }

        http.Response.Headers.RetryAfter = decision.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited, "Too many requests",
            $"Demo sign-in is limited; retry in {decision.RetryAfterSeconds} s.");
    }
}

/// <summary>Identity's limits in Redis windows shared by its replicas; the <c>Timepoint.Identity.RateLimits</c> meter counts fallbacks.</summary>
public sealed class IdentityRateLimiter(IConnectionMultiplexer redis, TimeProvider clock, IMeterFactory meters, ILogger<IdentityRateLimiter> logger)
    : SharedRateLimiter(redis, clock, FallbackCounter(meters), logger)
{
    public const string MeterName = "Timepoint.Identity.RateLimits";

    private static Action FallbackCounter(IMeterFactory meters)
    {
        var counter = meters.Create(MeterName).CreateCounter<long>("timepoint.identity.ratelimit.fallbacks", "{decision}",
            "Rate-limit decisions taken per replica because Redis was unreachable.");
        return () => counter.Add(1);
    }
}
