using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Timepoint.Gateway;
using Timepoint.Gateway.Limits;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// The rate limiter's leases on real Redis: several limiters on one Redis are several gateway replicas. Every test
/// uses its own subject, so the shared Redis server's other users do not matter. Run on one server and on a cluster.
/// </summary>
public abstract class RateLimitLeaseTests(RedisFlavour flavour) : IAsyncLifetime
{
    private static readonly IMeterFactory Meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
    private readonly FakeTimeProvider clock = new(DateTimeOffset.FromUnixTimeSeconds(60 * 29_000_000L + 5));
    private readonly string subject = $"lease-{Guid.NewGuid():N}";
    private ConnectionMultiplexer redis = null!;

    public async Task InitializeAsync() => redis = await ConnectionMultiplexer.ConnectAsync(await LocalServers.RedisConnectionStringAsync(flavour));

    public async Task DisposeAsync() => await redis.DisposeAsync();

    private EdgeRateLimiter Replica(TimeProvider? time = null) =>
        new(redis, time ?? clock, new GatewayMetrics(Meters), NullLogger<EdgeRateLimiter>.Instance);

    private async Task<long> CountedInRedisAsync(TimeProvider? time = null) =>
        (long)await redis.GetDatabase().StringGetAsync($"rl:read:{subject}:{(time ?? clock).GetUtcNow().ToUnixTimeSeconds() / 60}");

    /// <summary>Ten hits in a row, without the clock moving, all of them admitted.</summary>
    private static async Task TenAdmittedAsync(EdgeRateLimiter limiter, string who, int limit)
    {
        for (var i = 0; i < 10; i++)
        {
            Assert.True((await limiter.HitAsync("read", who, limit)).Allowed);
        }
    }

    [Fact]
    public async Task One_replica_counts_down_by_one_and_refuses_at_the_limit()
    {
        var limiter = Replica();
        var remaining = new List<int>();
        for (var i = 0; i < 40; i++)
        {
            var decision = await limiter.HitAsync("read", subject, 32);
            Assert.Equal(i < 32, decision.Allowed);
            remaining.Add(decision.Remaining);
        }

        Assert.Equal(Enumerable.Range(0, 32).Select(i => 31 - i).Concat(Enumerable.Repeat(0, 8)), remaining);
        // Refusals are not counted: the window holds exactly what was admitted.
        Assert.Equal(32, await CountedInRedisAsync());
    }

    [Fact]
    public async Task A_busy_caller_takes_units_from_redis_in_growing_leases()
    {
        var limiter = Replica();
        await TenAdmittedAsync(limiter, subject, 100_000);

        // Leases of 1, 2, 4 and 8 units: four round trips for ten requests, and five units held for what comes next.
        Assert.Equal(15, await CountedInRedisAsync());
    }

    [Fact]
    public async Task A_caller_with_one_request_at_a_time_asks_redis_every_time()
    {
        var limiter = Replica();
        for (var i = 0; i < 5; i++)
        {
            Assert.True((await limiter.HitAsync("read", subject, 100_000)).Allowed);
            Assert.Equal(i + 1, await CountedInRedisAsync());
            clock.Advance(TimeSpan.FromSeconds(1));
        }
    }

    [Fact]
    public async Task Replicas_hit_at_once_never_admit_more_than_the_limit_between_them()
    {
        // Real time: the leases grow and shrink as they would under load.
        var replicas = new[] { Replica(TimeProvider.System), Replica(TimeProvider.System), Replica(TimeProvider.System) };
        var decisions = await Task.WhenAll(Enumerable.Range(0, 3000).Select(i => Task.Run(async () =>
            await replicas[i % 3].HitAsync("read", subject, 1000))));
        var admitted = decisions.Count(d => d.Allowed);

        Assert.InRange(admitted, 1000 - 3 * SharedRateLimiter.MaxLease, 1000);
        Assert.All(decisions.Where(d => !d.Allowed), d => Assert.Equal(0, d.Remaining));

        // Whatever a replica leased and did not use goes back, and then the window holds exactly what was admitted...
        foreach (var replica in replicas)
        {
            await replica.ReturnIdleLeasesAsync(TimeSpan.Zero);
        }

        Assert.Equal(admitted, await CountedInRedisAsync(TimeProvider.System));

        // ...and the rest of the budget can still be spent, to the last unit (by a replica that has not just been refused:
        // those remember a refusal for a second).
        var late = Replica(TimeProvider.System);
        while ((await late.HitAsync("read", subject, 1000)).Allowed)
        {
            admitted++;
        }

        Assert.Equal(1000, admitted);
    }

    [Fact]
    public async Task Units_a_replica_leased_and_left_idle_go_back_to_the_others()
    {
        var busy = Replica();
        var other = Replica();
        for (var i = 0; i < 40; i++)
        {
            Assert.True((await busy.HitAsync("read", subject, 1000)).Allowed);
        }

        var held = await CountedInRedisAsync() - 40;
        Assert.True(held > 0, "the busy replica holds units it has not used");

        clock.Advance(SharedRateLimiter.IdleLease);
        await busy.ReturnIdleLeasesAsync(SharedRateLimiter.IdleLease);
        Assert.Equal(40, await CountedInRedisAsync());

        // The other replica can spend everything else, to the last unit.
        var allowed = 0;
        for (var i = 0; i < 1000; i++)
        {
            allowed += (await other.HitAsync("read", subject, 1000)).Allowed ? 1 : 0;
        }

        Assert.Equal(960, allowed);
    }

    [Fact]
    public async Task Beyond_the_cap_on_leases_new_callers_are_counted_one_round_trip_each_and_leases_of_past_windows_are_forgotten()
    {
        var limiter = new EdgeRateLimiter(redis, clock, new GatewayMetrics(Meters), NullLogger<EdgeRateLimiter>.Instance) { MaxLeaseHolders = 1 };
        var other = $"{subject}-other";
        for (var i = 0; i < 10; i++)
        {
            Assert.True((await limiter.HitAsync("read", subject, 100_000)).Allowed);
            var beyond = await limiter.HitAsync("read", other, 100_000);
            Assert.True(beyond.Allowed);
            Assert.Equal(100_000 - i - 1, beyond.Remaining);
        }

        var window = clock.GetUtcNow().ToUnixTimeSeconds() / 60;
        Assert.Equal(15, await CountedInRedisAsync());
        Assert.Equal(10, (long)await redis.GetDatabase().StringGetAsync($"rl:read:{other}:{window}"));

        // A window later the first caller's lease is forgotten, which makes room for the other one.
        clock.Advance(TimeSpan.FromSeconds(60));
        await limiter.ReturnIdleLeasesAsync(SharedRateLimiter.IdleLease);
        await TenAdmittedAsync(limiter, other, 100_000);

        Assert.Equal(15, (long)await redis.GetDatabase().StringGetAsync($"rl:read:{other}:{window + 1}"));
    }

    [Fact]
    public async Task Leases_a_stopping_replica_cannot_give_back_stay_counted_as_spent_and_stopping_does_not_fail()
    {
        // At shutdown the Redis connection may be disposed before the leases are given back.
        var own = await ConnectionMultiplexer.ConnectAsync(await LocalServers.RedisConnectionStringAsync(flavour));
        var limiter = new EdgeRateLimiter(own, clock, new GatewayMetrics(Meters), NullLogger<EdgeRateLimiter>.Instance);
        await TenAdmittedAsync(limiter, subject, 1000);

        await own.DisposeAsync();
        await limiter.ReturnIdleLeasesAsync(TimeSpan.Zero);

        Assert.Equal(15, await CountedInRedisAsync());
    }

    [Fact]
    public async Task A_lease_in_use_is_not_given_back()
    {
        var limiter = Replica();
        await TenAdmittedAsync(limiter, subject, 1000);

        clock.Advance(SharedRateLimiter.IdleLease / 2);
        await limiter.ReturnIdleLeasesAsync(SharedRateLimiter.IdleLease);
        Assert.Equal(15, await CountedInRedisAsync());
    }

    [Fact]
    public async Task A_new_window_starts_a_new_budget_and_old_units_are_not_carried_over()
    {
        var limiter = Replica();
        await TenAdmittedAsync(limiter, subject, 10);

        var refused = await limiter.HitAsync("read", subject, 10);
        Assert.False(refused.Allowed);
        Assert.Equal(clock.GetUtcNow().ToUnixTimeSeconds() / 60 * 60 + 60, refused.ResetAt);

        clock.Advance(TimeSpan.FromSeconds(60));
        var next = await limiter.HitAsync("read", subject, 10);
        Assert.True(next.Allowed);
        Assert.Equal(9, next.Remaining);
        Assert.Equal(1, await CountedInRedisAsync());
    }
}

public sealed class RateLimitLeaseOnServerTests() : RateLimitLeaseTests(RedisFlavour.Server);

public sealed class RateLimitLeaseOnClusterTests() : RateLimitLeaseTests(RedisFlavour.Cluster);
