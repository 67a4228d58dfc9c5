using Npgsql;
using Timepoint.ServiceDefaults;

namespace Timepoint.Credits.Data;

/// <summary>
/// Applies the embedded SQL migrations (<c>Data/Migrations/*.sql</c>, in name order) before the server listens:
/// hosted services start first. Each runs once, in its own transaction, recorded in <c>schema_migrations</c>; replicas
/// that start together take turns (<see cref="SchemaStartup"/>).
/// </summary>
public sealed partial class DatabaseMigrator(NpgsqlDataSource db, ILogger<DatabaseMigrator> logger) : IHostedService
{
    private const long MigrationLock = 0x7443_7265_6469_7473; // "tCredits"
    private const string ResourcePrefix = "migrations/";

    public Task StartAsync(CancellationToken cancellationToken) =>
        db.RunExclusivelyAsync(MigrationLock, MigrateAsync, logger, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                id         text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, cancellationToken);

        foreach (var (id, sql) in Scripts())
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var check = new NpgsqlCommand("SELECT 1 FROM schema_migrations WHERE id = $1", connection, transaction))
            {
                check.Parameters.Add(new NpgsqlParameter { Value = id });
                if (await check.ExecuteScalarAsync(cancellationToken) is not null)
                {
                    continue;
                }
            }

            await using (var apply = new NpgsqlCommand(sql, connection, transaction))
            {
                await apply.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (id) VALUES ($1)", connection, transaction))
            {
                record.Parameters.Add(new NpgsqlParameter { Value = id });
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            LogApplied(id);
        }
    }

    private static IEnumerable<(string Id, string Sql)> Scripts()
    {
        var assembly = typeof(DatabaseMigrator).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            yield return (name[ResourcePrefix.Length..], reader.ReadToEnd());
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied credits migration {Migration}.")]
    private partial void LogApplied(string migration);
}
