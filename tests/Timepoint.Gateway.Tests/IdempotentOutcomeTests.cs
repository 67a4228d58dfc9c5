using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Timepoint.Gateway.Metering;

namespace Timepoint.Gateway.Tests;

/// <summary>The outcomes of idempotent metered requests in real Redis, on one server and on a cluster.</summary>
public abstract class IdempotentOutcomeTests(RedisFlavour flavour) : IAsyncLifetime
{
    private ConnectionMultiplexer redis = null!;

    public async Task InitializeAsync() => redis = await ConnectionMultiplexer.ConnectAsync(await LocalServers.RedisConnectionStringAsync(flavour));

    public async Task DisposeAsync() => await redis.DisposeAsync();

    [Fact]
    public async Task A_stored_outcome_is_replayed_to_its_user_only_and_kept_a_day()
    {
        var outcomes = new IdempotentOutcomes(redis, NullLogger<IdempotentOutcomes>.Instance);
        var (user, other) = (Guid.NewGuid(), Guid.NewGuid());
        // Many keys, so that on a cluster they land on every master.
        var keys = Enumerable.Range(0, 24).Select(i => $"order-{i}-{Guid.NewGuid():N}").ToList();

        foreach (var (key, i) in keys.Select((k, i) => (k, i)))
        {
            await outcomes.StoreAsync(user, key, new StoredOutcome(201, "application/json", [(byte)i], 5, 100 - i));
        }

        foreach (var (key, i) in keys.Select((k, i) => (k, i)))
        {
            var replay = await outcomes.GetAsync(user, key);
            Assert.NotNull(replay);
            Assert.Equal((201, "application/json", (byte)i, 5L, 100L - i),
                (replay.Status, replay.ContentType, Assert.Single(replay.Body), replay.Charged, replay.BalanceAfter));
            Assert.Null(await outcomes.GetAsync(other, key));
        }

        var ttl = await redis.GetDatabase().KeyTimeToLiveAsync($"idem:{user}:{IdempotentOutcomes.Digest(keys[0])}");
        Assert.InRange(ttl!.Value, TimeSpan.FromHours(23), TimeSpan.FromHours(24));
    }
}

public sealed class IdempotentOutcomeOnServerTests() : IdempotentOutcomeTests(RedisFlavour.Server);

public sealed class IdempotentOutcomeOnClusterTests() : IdempotentOutcomeTests(RedisFlavour.Cluster);
