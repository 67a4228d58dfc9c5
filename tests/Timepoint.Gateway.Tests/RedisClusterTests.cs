using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Timepoint.Gateway.Limits;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// What a Redis Cluster changes, on the test cluster of three masters: keys spread over nodes, so a script or
/// transaction may only touch keys of one hash slot, and a subscriber hears what is published on any node.
/// </summary>
public sealed class RedisClusterTests : IAsyncLifetime
{
    private ConnectionMultiplexer redis = null!;

    public async Task InitializeAsync() =>
        redis = await ConnectionMultiplexer.ConnectAsync(await LocalServers.RedisConnectionStringAsync(RedisFlavour.Cluster));

    public async Task DisposeAsync() => await redis.DisposeAsync();

    private IServer[] Masters => [.. redis.GetServers().Where(s => s.IsConnected && !s.IsReplica)];

    [Fact]
    public void The_test_cluster_has_three_masters()
    {
        Assert.All(Masters, m => Assert.Equal(ServerType.Cluster, m.ServerType));
        Assert.Equal(3, Masters.Length);
    }

    [Fact]
    public async Task A_script_touching_two_keys_needs_a_hash_tag()
    {
        // Two keys in different slots (so, with three masters, very likely on different nodes) and two in one slot.
        var prefix = Guid.NewGuid().ToString("N");
        var first = (RedisKey)$"{prefix}:a";
        var second = Enumerable.Range(0, 100).Select(i => (RedisKey)$"{prefix}:b{i}").First(k => redis.HashSlot(k) != redis.HashSlot(first));
        const string script = "redis.call('SET', KEYS[1], '1') redis.call('SET', KEYS[2], '2') return 1";

        var untagged = await Assert.ThrowsAnyAsync<Exception>(() => redis.GetDatabase().ScriptEvaluateAsync(script, [first, second]));
        Assert.Contains("slot", untagged.Message, StringComparison.OrdinalIgnoreCase);

        RedisKey[] tagged = [$"{{{prefix}}}:a", $"{{{prefix}}}:b"];
        Assert.Equal(redis.HashSlot(tagged[0]), redis.HashSlot(tagged[1]));
        Assert.Equal(1, (int)await redis.GetDatabase().ScriptEvaluateAsync(script, tagged));
        Assert.Equal("2", await redis.GetDatabase().StringGetAsync(tagged[1]));
    }

    [Fact]
    public async Task A_subscriber_hears_what_is_published_on_every_master()
    {
        var channel = RedisChannel.Literal($"timepoint:test:{Guid.NewGuid():N}");
        var heard = Channel.CreateUnbounded<string>();
        await redis.GetSubscriber().SubscribeAsync(channel, (_, message) => heard.Writer.TryWrite(message!));

        // PUBLISH sent to each node in turn, as publishers connected to different nodes would.
        foreach (var master in Masters)
        {
            await master.ExecuteAsync("PUBLISH", (RedisValue)channel.ToString(), (RedisValue)master.EndPoint.ToString());
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var messages = new List<string>();
        while (messages.Count < Masters.Length)
        {
            messages.Add(await heard.Reader.ReadAsync(timeout.Token));
        }

        Assert.Equal(Masters.Select(m => m.EndPoint.ToString()).Order(), messages.Order());
    }

    [Fact]
    public async Task The_shared_rate_limiter_counts_windows_on_every_master()
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var limiter = new EdgeRateLimiter(redis, clock, new GatewayMetrics(meters), NullLogger<EdgeRateLimiter>.Instance);
        var subjects = Enumerable.Range(0, 30).Select(i => $"cluster-{i}-{Guid.NewGuid():N}").ToList();
        var window = clock.GetUtcNow().ToUnixTimeSeconds() / 60;

        foreach (var subject in subjects)
        {
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(i < 3, (await limiter.HitAsync("read", subject, 3)).Allowed);
            }
        }

        var nodes = subjects.Select(s => redis.GetDatabase().IdentifyEndpoint($"rl:read:{s}:{window}")).Distinct().Count();
        Assert.Equal(3, nodes);
        foreach (var subject in subjects)
        {
            Assert.Equal(3, (long)await redis.GetDatabase().StringGetAsync($"rl:read:{subject}:{window}"));
        }
    }
}
