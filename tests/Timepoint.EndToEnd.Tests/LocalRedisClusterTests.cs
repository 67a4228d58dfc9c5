using StackExchange.Redis;
using Timepoint.AppHost;

namespace Timepoint.EndToEnd.Tests;

/// <summary>
/// The AppHost's local Redis Cluster (<c>Infrastructure:RedisCluster=true</c>) on its own: the AppHost's model with every
/// resource but Redis's taken out, run by DCP as the AppHost runs it, without the cost of a whole platform start.
/// </summary>
public sealed class LocalRedisClusterTests
{
    [Fact]
    public async Task The_local_cluster_forms_three_masters_and_its_connection_string_reaches_them_all()
    {
        var data = Directory.CreateTempSubdirectory("timepoint-cluster-");
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Timepoint_AppHost>(
                ["Infrastructure:Mode=local", $"Infrastructure:DataDirectory={data.FullName}", $"{LocalRedisCluster.SettingName}=true"],
                (options, _) => options.DisableDashboard = true, cts.Token);
            var cluster = Assert.IsType<LocalRedisClusterResource>(builder.Resources.Single(r => r.Name == "redis"));
            foreach (var other in builder.Resources.Where(r => r is not ParameterResource && r.Name != "redis"
                && !r.Name.StartsWith("redis-", StringComparison.Ordinal)).ToList())
            {
                builder.Resources.Remove(other);
            }

            Assert.Equal(LocalRedisCluster.NodeCount, builder.Resources.Count(r => r is ExecutableResource));
            await using var app = await builder.BuildAsync(cts.Token);
            await app.StartAsync(cts.Token);
            await app.ResourceNotifications.WaitForResourceHealthyAsync("redis", cts.Token);

            var connectionString = await app.GetConnectionStringAsync("redis", cts.Token);
            Assert.Equal(3, connectionString!.Split(',').Count(part => part.StartsWith("127.0.0.1:", StringComparison.Ordinal)));
            await using var redis = await ConnectionMultiplexer.ConnectAsync(connectionString);
            var masters = redis.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToList();
            Assert.Equal(3, masters.Count);
            Assert.All(masters, m => Assert.Equal(ServerType.Cluster, m.ServerType));
            // Keys on every node: each write lands on the master that owns its slot.
            var keys = Enumerable.Range(0, 30).Select(i => (RedisKey)$"check:{i}").ToList();
            foreach (var key in keys)
            {
                await redis.GetDatabase().StringSetAsync(key, (string)key!);
            }

            Assert.Equal(3, keys.Select(k => redis.GetDatabase().IdentifyEndpoint(k)).Distinct().Count());
            Assert.All(keys, k => Assert.Equal((string)k!, (string?)redis.GetDatabase().StringGet(k)));
            await app.StopAsync(cts.Token);
        }
        finally
        {
            try
            {
                data.Delete(recursive: true);
            }
            catch (IOException)
            {
                // a node still closing its files
            }
        }
    }
}
