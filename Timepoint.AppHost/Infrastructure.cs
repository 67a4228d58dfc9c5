using Microsoft.Extensions.Configuration;
using Aspire.Hosting.ApplicationModel;

namespace Timepoint.AppHost;

/// <summary>PostgreSQL and Redis, whichever way they are run; services see only connection strings.</summary>
public sealed class Infrastructure(
    InfrastructureMode mode,
    Func<string, IResourceBuilder<IResourceWithConnectionString>> addDatabase,
    IResourceBuilder<IResourceWithConnectionString> redis)
{
    public InfrastructureMode Mode { get; } = mode;

    public IResourceBuilder<IResourceWithConnectionString> Redis { get; } = redis;

    /// <summary>A database on the one PostgreSQL server, created on first start.</summary>
    public IResourceBuilder<IResourceWithConnectionString> AddDatabase(string name) => addDatabase(name);
}

public static class InfrastructureExtensions
{
    /// <summary>
    /// Adds the <c>postgres</c> server and <c>redis</c>: containers when a container runtime answers
    /// (or <c>Infrastructure:Mode</c> says so), otherwise the machine's own binaries as executables; there,
    /// <c>Infrastructure:RedisCluster</c> makes <c>redis</c> a local Redis Cluster of three masters.
    /// </summary>
    public static Infrastructure AddInfrastructure(this IDistributedApplicationBuilder builder)
    {
        // A publish manifest describes containers for the deployment tools; local binaries are a run-mode affair.
        var mode = builder.ExecutionContext.IsPublishMode
            ? InfrastructureMode.Containers
            : InfrastructureModeSelector.Resolve(
                builder.Configuration[InfrastructureModeSelector.SettingName],
                () => InfrastructureModeSelector.ContainerRuntimeAnswers(
                    builder.Configuration["ASPIRE_CONTAINER_RUNTIME"], TimeSpan.FromSeconds(5)));

        if (mode == InfrastructureMode.Containers)
        {
            var postgres = builder.AddPostgres("postgres").WithDataVolume();
            var redis = builder.AddRedis("redis");
            return new Infrastructure(mode, name => postgres.AddDatabase(name), redis);
        }

        var layout = LocalLayout.Resolve(builder.Configuration);
        var localPostgres = builder.AddLocalPostgres("postgres", layout);
        // Infrastructure:RedisCluster=true: three masters in place of the one server, to run the platform as on a managed cluster.
        IResourceBuilder<IResourceWithConnectionString> localRedis = builder.Configuration.GetValue<bool>(LocalRedisCluster.SettingName)
            ? builder.AddLocalRedisCluster("redis", layout)
            : builder.AddLocalRedis("redis", layout);
        return new Infrastructure(mode, name => localPostgres.AddLocalDatabase(name), localRedis);
    }
}
