using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Timepoint.Identity.Data;

/// <summary>
/// Applies EF Core migrations at start, under a PostgreSQL advisory lock so that replicas starting together take turns,
/// then runs the start-up seeding. Until it has finished, /health says unhealthy.
/// </summary>
public sealed class DatabaseMigrator(IServiceProvider services, ILogger<DatabaseMigrator> logger) : IHostedService, IHealthCheck
{
    private const long LockId = 0x7469_6D65_6964; // "timeid"
    private volatile bool done;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({LockId})", connection))
            {
                await take.ExecuteNonQueryAsync(cancellationToken);
            }

            await db.Database.MigrateAsync(cancellationToken);
            foreach (var seeder in scope.ServiceProvider.GetServices<IStartupSeeder>())
            {
                await seeder.SeedAsync(cancellationToken);
            }

            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({LockId})", connection);
            await release.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }

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
