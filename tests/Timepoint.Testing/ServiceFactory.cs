using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Timepoint.Testing;

/// <summary>
/// One service in memory with the settings the AppHost would give it: its own keys, the gateway secret, and
/// connection strings to real PostgreSQL and Redis (add them with <see cref="UseDatabaseAsync"/> / <see cref="UseRedisAsync"/>).
/// </summary>
public class ServiceFactory<TProgram> : WebApplicationFactory<TProgram> where TProgram : class
{
    public string GatewaySecret { get; init; } = LocalServers.Secret() + LocalServers.Secret();

    public string ServiceKey { get; init; } = "svc-" + LocalServers.Secret() + LocalServers.Secret();

    public string AdminKey { get; init; } = "adm-" + LocalServers.Secret() + LocalServers.Secret();

    public Dictionary<string, string?> Settings { get; } = [];

    /// <summary>The hosting environment the service runs in (Development, like the AppHost's).</summary>
    public string Environment { get; set; } = "Development";

    /// <summary>Creates a fresh database on the shared test server and hands it to the service as <paramref name="name"/>.</summary>
    public async Task UseDatabaseAsync(string name) =>
        Settings[$"ConnectionStrings:{name}"] = await LocalServers.CreateDatabaseAsync(name);

    /// <summary>Hands the service the shared test Redis server, or the shared test cluster, as <paramref name="name"/>.</summary>
    public async Task UseRedisAsync(string name = "redis", RedisFlavour flavour = RedisFlavour.Server) =>
        Settings[$"ConnectionStrings:{name}"] = await LocalServers.RedisConnectionStringAsync(flavour);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(Environment);
        builder.UseSetting("GatewayTrust:Secret", GatewaySecret);
        builder.UseSetting("Security:ServiceKey", ServiceKey);
        builder.UseSetting("Security:AdminKey", AdminKey);
        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }
    }
}
