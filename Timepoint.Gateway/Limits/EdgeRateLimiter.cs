using StackExchange.Redis;

namespace Timepoint.Gateway.Limits;

/// <summary>The edge's limits and budgets: the shared Redis windows, falling back per replica with the gateway's metric.</summary>
public sealed class EdgeRateLimiter(IConnectionMultiplexer redis, TimeProvider clock, GatewayMetrics metrics, ILogger<EdgeRateLimiter> logger)
    : SharedRateLimiter(redis, clock, metrics.RateLimitFallback, logger);
