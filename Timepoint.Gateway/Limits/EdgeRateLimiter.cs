using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Timepoint.Gateway.Limits;

public readonly record struct RateDecision(bool Allowed, int Limit, int Remaining, long ResetAt, int RetryAfterSeconds);

/// <summary>
/// Fixed one-minute windows counted in Redis, so every gateway replica spends one budget. When Redis cannot be reached
/// the limits fall back to per-replica counters: limits fail open, and say so in a log line and a metric.
/// </summary>
public sealed class EdgeRateLimiter(IConnectionMultiplexer redis, TimeProvider clock, GatewayMetrics metrics, ILogger<EdgeRateLimiter> logger)
{
    private const int WindowSeconds = 60;

    // INCR, and start the window's expiry on its first hit: one round trip, atomic.
    private static readonly LuaScript Count = LuaScript.Prepare(
        "local n = redis.call('INCR', @key) if n == 1 then redis.call('EXPIRE', @key, @ttl) end return n");

    private readonly ConcurrentDictionary<string, LocalWindow> local = new();
    private long lastFallbackLog;

    public async ValueTask<RateDecision> HitAsync(string bucket, string subject, int limit)
    {
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        var window = now / WindowSeconds;
        var resetAt = (window + 1) * WindowSeconds;
        var key = $"rl:{bucket}:{subject}:{window}";
        long count;
        try
        {
            count = (long)await redis.GetDatabase().ScriptEvaluateAsync(Count, new { key = (RedisKey)key, ttl = WindowSeconds + 5 });
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            count = CountLocally(key, window, ex);
        }

        var allowed = count <= limit;
        return new RateDecision(allowed, limit, (int)Math.Max(0, limit - count), resetAt, allowed ? 0 : (int)Math.Max(1, resetAt - now));
    }

    private long CountLocally(string key, long window, Exception error)
    {
        metrics.RateLimitFallback();
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref lastFallbackLog);
        if (now - last > 10_000 && Interlocked.CompareExchange(ref lastFallbackLog, now, last) == last)
        {
            logger.LogWarning("Redis is unreachable ({Error}); rate limits are per replica until it is back", error.Message);
        }

        if (local.Count > 100_000)
        {
            foreach (var stale in local.Where(p => p.Value.Window < window).Select(p => p.Key).ToList())
            {
                local.TryRemove(stale, out _);
            }
        }

        return local.AddOrUpdate(key, _ => new LocalWindow(window, 1), (_, w) => w with { Count = w.Count + 1 }).Count;
    }

    private sealed record LocalWindow(long Window, long Count);
}
