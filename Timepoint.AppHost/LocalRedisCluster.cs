using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Timepoint.AppHost;

/// <summary>
/// A Redis Cluster of three masters from the machine's own redis-server (<c>Infrastructure:RedisCluster=true</c>, local
/// mode): three executables with <c>--cluster-enabled yes</c>, joined by <c>redis-cli --cluster create</c>. Services get a
/// connection string naming the three nodes; StackExchange.Redis discovers the slots from them.
/// </summary>
public sealed class LocalRedisClusterResource(string name, ParameterResource password, IReadOnlyList<int> ports)
    : Resource(name), IResourceWithConnectionString
{
    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>The nodes' client ports, on 127.0.0.1: chosen when the AppHost starts (the cluster is made anew each start).</summary>
    public IReadOnlyList<int> Ports { get; } = ports;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"{LocalRedisCluster.Seeds(Ports)},password={PasswordParameter}");
}

public static class LocalRedisCluster
{
    public const string SettingName = "Infrastructure:RedisCluster";

    public const int NodeCount = 3;

    /// <summary>The seed list of a connection string: every node, on loopback.</summary>
    public static string Seeds(IEnumerable<int> ports) => string.Join(',', ports.Select(p => $"127.0.0.1:{p}"));

    /// <summary>
    /// The arguments of one node after its config file (which holds the password): loopback, its client and cluster-bus
    /// ports, its cluster state file in <paramref name="directory"/>, no persistence (the cluster is made anew each start).
    /// </summary>
    public static string[] NodeArguments(int port, int busPort, string directory) =>
    [
        "--port", port.ToString(CultureInfo.InvariantCulture),
        "--bind", "127.0.0.1",
        "--cluster-enabled", "yes",
        "--cluster-port", busPort.ToString(CultureInfo.InvariantCulture),
        "--cluster-config-file", Path.Combine(directory, "nodes.conf"),
        "--dir", directory,
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
    ];

    /// <summary>The config file a node reads first: the password it asks for and the one it gives other nodes.</summary>
    public static string SecretsFile(string password) => $"requirepass {password}\nmasterauth {password}\n";

    /// <summary>
    /// Waits until every node answers, joins them into one cluster of masters (no replicas) and waits until every node
    /// reports <c>cluster_state:ok</c>. The password reaches redis-cli through its environment, not its command line.
    /// </summary>
    public static async Task CreateAsync(string redisCli, IReadOnlyList<int> ports, string password, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        foreach (var port in ports)
        {
            await UntilAsync(() => Task.FromResult(Cli(redisCli, password, ["-p", Port(port), "ping"]).Contains("PONG")), deadline.Token);
        }

        Cli(redisCli, password, ["--cluster", "create", .. ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"]);
        foreach (var port in ports)
        {
            await UntilAsync(() => Task.FromResult(Cli(redisCli, password, ["-p", Port(port), "cluster", "info"]).Contains("cluster_state:ok")),
                deadline.Token);
        }
    }

    /// <summary>A free loopback port (nothing listens on it when this returns).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static IResourceBuilder<LocalRedisClusterResource> AddLocalRedisCluster(
        this IDistributedApplicationBuilder builder, string name, LocalLayout layout)
    {
        var password = builder.AddParameter(
            $"{name}-password", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);
        var ports = Enumerable.Range(0, NodeCount).Select(_ => FreePort()).ToList();
        var cluster = new LocalRedisClusterResource(name, password.Resource, ports);
        var clusterBuilder = builder.AddResource(cluster).WithIconName("Memory");

        for (var i = 0; i < NodeCount; i++)
        {
            var directory = Path.Combine(layout.RedisData, "cluster", $"node-{i}");
            var secretsFile = Path.Combine(directory, "auth.conf");
            if (builder.ExecutionContext.IsRunMode)
            {
                Directory.CreateDirectory(directory);
            }

            var node = new ExecutableResource($"{name}-{i}", layout.RedisServer, directory);
            var busPort = FreePort();
            var port = ports[i];
            builder.AddResource(node)
                .WithEndpoint(name: "tcp", scheme: "tcp", port: port, targetPort: port, isProxied: false)
                .WithArgs(context =>
                {
                    context.Args.Add(secretsFile);
                    foreach (var arg in NodeArguments(port, busPort, directory))
                    {
                        context.Args.Add(arg);
                    }
                })
                .WithParentRelationship(clusterBuilder)
                .WithIconName("Memory");

            // A fresh node each start: its ports are new, so the cluster state of the last run would name nodes that are gone.
            builder.Eventing.Subscribe<BeforeResourceStartedEvent>(node, async (_, ct) =>
            {
                File.Delete(Path.Combine(directory, "nodes.conf"));
                await File.WriteAllTextAsync(secretsFile, SecretsFile(await password.Resource.GetValueAsync(ct) ?? ""), ct);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(secretsFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
            });
        }

        string? connectionString = null;
        // Once DCP has started the nodes, join them; the cluster resource is Running (and services may start) only then.
        builder.Eventing.Subscribe<AfterResourcesCreatedEvent>((@event, ct) =>
        {
            var notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
            var logger = @event.Services.GetRequiredService<ResourceLoggerService>().GetLogger(cluster);
            // The join outlives this event: it runs until formed, or until the AppHost stops.
            var stopping = @event.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().ApplicationStopping;
            _ = Task.Run(async () =>
            {
                try
                {
                    await notifications.PublishUpdateAsync(cluster, s => s with { State = KnownResourceStates.Starting });
                    var cli = Path.Combine(Path.GetDirectoryName(layout.RedisServer)!, "redis-cli");
                    await CreateAsync(File.Exists(cli) ? cli : "redis-cli", ports, await password.Resource.GetValueAsync(stopping) ?? "",
                        TimeSpan.FromMinutes(2), stopping);
                    logger.LogInformation("Redis Cluster of {Count} masters formed on {Seeds}", NodeCount, Seeds(ports));
                    // Aspire raises no ConnectionStringAvailableEvent for a resource it does not run itself.
                    connectionString = await cluster.ConnectionStringExpression.GetValueAsync(stopping);
                    await notifications.PublishUpdateAsync(cluster, s => s with
                    {
                        State = KnownResourceStates.Running,
                        StartTimeStamp = DateTime.UtcNow,
                    });
                }
                catch (Exception ex) when (!stopping.IsCancellationRequested)
                {
                    logger.LogError(ex, "The local Redis Cluster could not be formed");
                    await notifications.PublishUpdateAsync(cluster, s => s with { State = KnownResourceStates.FailedToStart });
                }
            }, stopping);
            return Task.CompletedTask;
        });

        var healthCheckKey = $"{name}_check";
        // The Redis health check asks each node of a cluster for CLUSTER INFO and wants cluster_state:ok.
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException("Connection string is unavailable"),
            name: healthCheckKey);
        return clusterBuilder.WithHealthCheck(healthCheckKey);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static string Cli(string redisCli, string password, string[] args) =>
        LocalProcess.Run(redisCli, args, environment: new Dictionary<string, string> { ["REDISCLI_AUTH"] = password });

    private static async Task UntilAsync(Func<Task<bool>> done, CancellationToken ct)
    {
        string? lastError = null;
        while (true)
        {
            try
            {
                if (await done())
                {
                    return;
                }
            }
            catch (DistributedApplicationException ex)
            {
                // Not listening yet: redis-cli fails; ask again.
                lastError = ex.Message;
            }

            try
            {
                await Task.Delay(200, ct);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"The local Redis Cluster did not form in time; last redis-cli error: {lastError ?? "none"}");
            }
        }
    }
}
