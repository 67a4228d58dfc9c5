using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Timepoint.ServiceDefaults;

namespace Timepoint.Identity.Data;

/// <summary>
/// Applies EF Core migrations at start, then runs the start-up seeding; replicas starting together take turns
/// (<see cref="SchemaStartup"/>). Until it has finished, /health says unhealthy.
/// </summary>
public sealed class DatabaseMigrator(IServiceProvider services, ILogger<DatabaseMigrator> logger) : IHostedService, IHealthCheck
{
    private const long LockId = 0x7469_6D65_6964; // "timeid"
    private volatile bool done;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        await using var dataSource = NpgsqlDataSource.Create(db.Database.GetConnectionString()!);
        await dataSource.RunExclusivelyAsync(LockId, async ct =>
        {
            await db.Database.MigrateAsync(ct);
            foreach (var seeder in scope.ServiceProvider.GetServices<IStartupSeeder>())
            {
                await seeder.SeedAsync(ct);
            }
        }, logger, cancellationToken);

        done = true;
        logger.LogInformation("identitydb is migrated and seeded");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(done ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("Migrations have not run yet."));
}

/// <summary>Start-up work that needs the schema and must not run twice at once (signing keys, registered clients).</summary>
public interface IStartupSeeder
{
    Task SeedAsync(CancellationToken cancellationToken);
}
