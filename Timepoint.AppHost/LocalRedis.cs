using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Timepoint.AppHost;

/// <summary>The machine's own redis-server, run by DCP as an executable.</summary>
public sealed class LocalRedisResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    public EndpointReference PrimaryEndpoint => new(this, EndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"{PrimaryEndpoint.Property(EndpointProperty.Host)}:{PrimaryEndpoint.Property(EndpointProperty.Port)},password={PasswordParameter}");
}

public static class LocalRedisExtensions
{
    public static IResourceBuilder<LocalRedisResource> AddLocalRedis(
        this IDistributedApplicationBuilder builder, string name, LocalLayout layout)
    {
        if (builder.ExecutionContext.IsRunMode)
        {
            Directory.CreateDirectory(layout.RedisData);
        }

        var password = builder.AddParameter(
            $"{name}-password", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);
        var redis = new LocalRedisResource(name, layout.RedisServer, layout.RedisData, password.Resource);

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(redis, async (_, ct) =>
            connectionString = await redis.ConnectionStringExpression.GetValueAsync(ct));

        // The password goes in a file only the AppHost's user can read, not on the command line, where the dashboard and
        // the process list would show it. Written before each start: the parameter may change between runs.
        var secretsFile = Path.Combine(layout.RedisData, "auth.conf");
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(redis, async (_, ct) =>
        {
            var value = await password.Resource.GetValueAsync(ct);
            await File.WriteAllTextAsync(secretsFile, $"requirepass {value}\n", ct);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(secretsFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        });

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException("Connection string is unavailable"),
            name: healthCheckKey);

        return builder.AddResource(redis)
            .WithEndpoint(name: LocalRedisResource.EndpointName, scheme: "tcp")
            .WithArgs(context =>
            {
                context.Args.Add(secretsFile);
                context.Args.Add("--port");
                context.Args.Add(redis.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("--bind");
                context.Args.Add("127.0.0.1");
                context.Args.Add("--dir");
                context.Args.Add(layout.RedisData);
                context.Args.Add("--save");
                context.Args.Add("60 1");
                context.Args.Add("--appendonly");
                context.Args.Add("no");
                // Not a daemon: DCP owns the process and stops it with the AppHost.
                context.Args.Add("--daemonize");
                context.Args.Add("no");
            })
            .WithHealthCheck(healthCheckKey)
            .WithIconName("Memory");
    }
}
