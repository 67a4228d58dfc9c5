using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public readonly record struct RateDecision(bool Allowed, int Limit, int Remaining, long ResetAt, int RetryAfterSeconds);

/// <summary>
/// Fixed one-minute windows counted in Redis, so every replica of a service spends one budget: the edge's limits, and
/// the limits a service keeps itself (identity's demo sign-in).
/// <para>
/// A replica takes a window's budget from Redis in leases and counts them down locally: one round trip per lease, not
/// per request. A caller with one request at a time gets leases of one unit, so Redis is asked every time, as before;
/// a busy caller's leases double while they run out quickly (at most <see cref="MaxLease"/> units), and a lease is never
/// more than a sixteenth of what is left of the window, so the last part of a budget goes one unit at a time. The total
/// a window admits over all replicas never exceeds its limit. A lease left idle for <see cref="IdleLease"/> goes back
/// to Redis (<see cref="ReturnIdleLeasesAsync"/>), so units one replica holds do not stay refused to the others.
/// X-RateLimit-Remaining is exact on one replica; with several, it counts units leased to the others as spent.
/// </para>
/// <para>
/// When Redis cannot be reached the limits fall back to per-replica counters: limits fail open, and say so in a log
/// line and <paramref name="fallback"/> (each service counts it in its own metric).
/// </para>
/// Each window is one Redis key (<c>rl:bucket:subject:window</c>) and every script touches only that key, declared as a
/// script key: on a Redis Cluster each runs on the node that owns the key, whatever slot it hashes to.
/// </summary>
public class SharedRateLimiter(IConnectionMultiplexer redis, TimeProvider clock, Action fallback, ILogger logger)
{
    /// <summary>The most units one lease takes from Redis.</summary>
    public const int MaxLease = 64;

    /// <summary>How long a lease's unused units stay with a replica that is not using them.</summary>
    public static readonly TimeSpan IdleLease = TimeSpan.FromMilliseconds(250);

    private const int WindowSeconds = 60;

    /// <summary>
    /// The most callers holding leases at once (entries go when their window has passed). Beyond it, new callers are
    /// counted with one round trip per request, as without leases, so memory stays bounded whatever the traffic.
    /// </summary>
    public int MaxLeaseHolders { get; init; } = 100_000;

    /// <summary>
    /// The most per-replica counters kept while Redis is unreachable (one per caller and bucket; those of past windows go
    /// first). Beyond it, new callers of a bucket share one counter for the rest of the window: memory stays bounded
    /// (at most this many plus one per bucket) and the limits get stricter, never looser.
    /// </summary>
    public int MaxLocalCounters { get; init; } = 100_000;

    /// <summary>Callers holding leases now (at most <see cref="MaxLeaseHolders"/>, give or take the hits racing to add one).</summary>
    public int LeaseHolders => (int)Volatile.Read(ref leaseCount);

    /// <summary>Per-replica counters kept for the time Redis is unreachable.</summary>
    public int LocalCounters => local.Count;

    // A lease used up faster than this asks for twice as many units next time; a slower one for half.
    private static readonly TimeSpan BusyLease = TimeSpan.FromMilliseconds(100);

    // Refused callers are told so locally for this long before Redis is asked again (idle leases may come back).
    private static readonly TimeSpan RefusalMemory = TimeSpan.FromSeconds(1);

    // Takes up to @want units of the window: never beyond @limit, at most a sixteenth of what is left, at least one.
    // Returns { units counted in the window after this, units granted }. One round trip, atomic.
    private static readonly LuaScript Take = LuaScript.Prepare("""
        local used = tonumber(redis.call('GET', @key) or '0')
        local left = tonumber(@limit) - used
        if left < 1 then return { used, 0 } end
        local grant = math.max(1, math.min(tonumber(@want), math.floor(left / 16)))
        local n = redis.call('INCRBY', @key, grant)
        if n == grant then redis.call('EXPIRE', @key, @ttl) end
        return { n, grant }
        """);

    // Gives unused units back to a window that still exists (an expired window has nothing to give back to).
    private static readonly LuaScript GiveBack = LuaScript.Prepare(
        "if redis.call('EXISTS', @key) == 1 then return redis.call('DECRBY', @key, @count) end return 0");

    private readonly ConcurrentDictionary<(string Bucket, string Subject), Lease> leases = new();
    private long leaseCount;
    private readonly ConcurrentDictionary<string, LocalWindow> local = new();
    private long lastLocalSweep;
    private long lastFallbackLog;

    public async ValueTask<RateDecision> HitAsync(string bucket, string subject, int limit)
    {
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        var window = now / WindowSeconds;
        var resetAt = (window + 1) * WindowSeconds;
        while (true)
        {
            if (!leases.TryGetValue((bucket, subject), out var lease))
            {
                if (Volatile.Read(ref leaseCount) >= MaxLeaseHolders)
                {
                    // Callers without a lease beyond the cap (many addresses at once): one round trip each, no state.
                    return await HitOnceAsync(bucket, subject, limit, window, now, resetAt);
                }

                lease = new Lease();
                if (!leases.TryAdd((bucket, subject), lease))
                {
                    continue; // another request added it first: use that one
                }

                Interlocked.Increment(ref leaseCount);
            }

            Task<bool> refill;
            lock (lease)
            {
                if (lease.Retired)
                {
                    continue;
                }

                var ticks = clock.GetTimestamp();
                if (lease.Window < window)
                {
                    // Units left over from the previous window expire with it.
                    lease.Start(window);
                }
                else if (lease.Window > window)
                {
                    // This request read the clock just before a new minute that another one has already started:
                    // it counts in the new window (starting the old one again would throw the new one's units away).
                    window = lease.Window;
                    resetAt = (window + 1) * WindowSeconds;
                }

                lease.LastHit = ticks;
                if (lease.Next <= lease.Last)
                {
                    return Decide(lease.Next++, limit, now, resetAt);
                }

                if (lease.RefusedUntil > ticks)
                {
                    return Decide(limit + 1, limit, now, resetAt);
                }

                refill = lease.Refill ??= RefillAsync(lease, bucket, subject, window, limit);
                if (refill.IsCompleted)
                {
                    // It finished before it was stored (Redis refused at once): nothing left to wait for.
                    lease.Refill = null;
                }
            }

            if (!await refill)
            {
                return Decide(CountLocally(bucket, subject, window), limit, now, resetAt);
            }
        }
    }

    /// <summary>
    /// Gives the unused units of leases not used for <paramref name="idle"/> back to Redis, and forgets leases of past
    /// windows. Called every <see cref="IdleLease"/> by <see cref="RateLimitLeases"/>, and with zero when the replica stops.
    /// </summary>
    public async Task ReturnIdleLeasesAsync(TimeSpan idle)
    {
        var window = clock.GetUtcNow().ToUnixTimeSeconds() / WindowSeconds;
        var ticks = clock.GetTimestamp();
        foreach (var (key, lease) in leases)
        {
            long unused;
            lock (lease)
            {
                if (lease.Refill is not null || clock.GetElapsedTime(lease.LastHit, ticks) < idle)
                {
                    continue;
                }

                if (lease.Window != window)
                {
                    // Left alone since a past window: nothing to give back, and nobody to keep it for. A hit that
                    // already holds this lease sees it retired and takes the new one.
                    lease.Retired = true;
                    if (leases.TryRemove(new KeyValuePair<(string, string), Lease>(key, lease)))
                    {
                        Interlocked.Decrement(ref leaseCount);
                    }

                    continue;
                }

                unused = lease.Last - lease.Next + 1;
                if (unused <= 0)
                {
                    continue;
                }

                lease.Next = lease.Last + 1;
                lease.Size = 1;
            }

            try
            {
                await redis.GetDatabase().ScriptEvaluateAsync(GiveBack,
                    new { key = (RedisKey)RedisKeyOf(key.Bucket, key.Subject, window), count = unused });
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                // The units stay counted as spent until the window ends: stricter, never looser. (Disposed: the
                // replica is stopping and its Redis connection went first.)
                logger.LogDebug("Could not give {Units} rate-limit units back to Redis: {Error}", unused, ex.Message);
            }
        }
    }

    private async ValueTask<RateDecision> HitOnceAsync(string bucket, string subject, int limit, long window, long now, long resetAt)
    {
        try
        {
            var (counted, granted) = await TakeAsync(bucket, subject, window, limit, 1);
            return Decide(granted == 0 ? limit + 1 : counted, limit, now, resetAt);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Fallback(ex);
            return Decide(CountLocally(bucket, subject, window), limit, now, resetAt);
        }
    }

    private async Task<(long Counted, long Granted)> TakeAsync(string bucket, string subject, long window, int limit, int want)
    {
        var answer = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(Take,
            new { key = (RedisKey)RedisKeyOf(bucket, subject, window), limit, want, ttl = WindowSeconds + 5 }))!;
        return ((long)answer[0], (long)answer[1]);
    }

    private async Task<bool> RefillAsync(Lease lease, string bucket, string subject, long window, int limit)
    {
        var want = lease.WantNext(clock);
        try
        {
            var (counted, granted) = await TakeAsync(bucket, subject, window, limit, want);
            lock (lease)
            {
                if (lease.Window == window && granted == 0)
                {
                    lease.RefusedUntil = clock.GetTimestamp() + (long)(RefusalMemory.TotalSeconds * clock.TimestampFrequency);
                }
                else if (lease.Window == window)
                {
                    lease.Granted(counted - granted + 1, counted, clock.GetTimestamp());
                }
            }

            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Fallback(ex);
            return false;
        }
        finally
        {
            // Whatever happened, the next hit that finds the lease empty asks again (a refill that failed in an
            // unexpected way fails only the requests waiting for it).
            lock (lease)
            {
                lease.Refill = null;
            }
        }
    }

    private static RateDecision Decide(long count, int limit, long now, long resetAt)
    {
        var allowed = count <= limit;
        return new RateDecision(allowed, limit, (int)Math.Max(0, limit - count), resetAt, allowed ? 0 : (int)Math.Max(1, resetAt - now));
    }

    private static string RedisKeyOf(string bucket, string subject, long window) => $"rl:{bucket}:{subject}:{window}";

    private void Fallback(Exception error)
    {
        fallback();
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref lastFallbackLog);
        if (now - last > 10_000 && Interlocked.CompareExchange(ref lastFallbackLog, now, last) == last)
        {
            logger.LogWarning("Redis is unreachable ({Error}); rate limits are per replica until it is back", error.Message);
        }
    }

    private long CountLocally(string bucket, string subject, long window)
    {
        var key = $"{bucket}:{subject}";
        if (local.Count >= MaxLocalCounters && !local.ContainsKey(key))
        {
            var now = Environment.TickCount64;
            var last = Interlocked.Read(ref lastLocalSweep);
            if (now - last >= 1000 && Interlocked.CompareExchange(ref lastLocalSweep, now, last) == last)
            {
                foreach (var (stale, counted) in local)
                {
                    if (counted.Window < window)
                    {
                        local.TryRemove(new KeyValuePair<string, LocalWindow>(stale, counted));
                    }
                }
            }

            if (local.Count >= MaxLocalCounters)
            {
                // Full of this window's callers: a new one shares its bucket's overflow counter until the window turns,
                // stricter for it, never looser.
                key = $"{bucket}:*";
            }
        }

        return local.AddOrUpdate(key, _ => new LocalWindow(window, 1),
            (_, w) => w.Window == window ? w with { Count = w.Count + 1 } : new LocalWindow(window, 1)).Count;
    }

    private sealed record LocalWindow(long Window, long Count);

    /// <summary>One caller's units of the current window held by this replica: <see cref="Next"/> to <see cref="Last"/>.</summary>
    private sealed class Lease
    {
        public long Window = -1;
        public long Next = 1;
        public long Last;
        public int Size = 1;
        public long GrantedAt;
        public long LastHit;
        public long RefusedUntil;
        public bool Retired;
        public Task<bool>? Refill;

        public void Start(long window)
        {
            Window = window;
            Next = 1;
            Last = 0;
            Size = 1;
            RefusedUntil = 0;
        }

        public int WantNext(TimeProvider clock)
        {
            // Called under the lock, before the round trip: a lease that ran out quickly asks for more.
            if (GrantedAt != 0)
            {
                Size = clock.GetElapsedTime(GrantedAt) < BusyLease ? Math.Min(MaxLease, Size * 2) : Math.Max(1, Size / 2);
            }

            return Size;
        }

        public void Granted(long first, long last, long ticks)
        {
            Next = first;
            Last = last;
            GrantedAt = ticks;
        }
    }
}
