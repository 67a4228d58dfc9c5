using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace Timepoint.Gateway;

public static class GatewayServices
{
    public static WebApplicationBuilder AddGatewayServices(this WebApplicationBuilder builder)
    {
        // Limits fail open when Redis is down, so Redis makes the edge degraded, never unready:
        // taking every replica out of rotation would turn a cache outage into a full outage.
        builder.AddRedisClient("redis", settings => settings.DisableHealthChecks = true);
        builder.Services.AddHealthChecks()
            .AddCheck<RedisDegradedCheck>("redis", HealthStatus.Degraded);

        return builder;
    }
}

internal sealed class RedisDegradedCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await redis.GetDatabase().PingAsync().WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or OperationCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "Redis is unreachable; rate limits are per replica.");
        }
    }
}
