using Npgsql;
using Timepoint.ServiceDefaults;

namespace Timepoint.Flash.Stub.Storage;

/// <summary>
/// Applies flash's schema at start. Hosted services start before the server listens, so the service never reports
/// healthy on a missing table. Idempotent and serialized (<see cref="SchemaStartup"/>), so several replicas may start at once.
/// </summary>
public sealed class FlashSchema(NpgsqlDataSource dataSource, ILogger<FlashSchema> logger) : IHostedService
{
    // Any constant shared by every replica; "flash" in ASCII.
    private const long LockKey = 0x666C617368;

    private const string Script = """
        CREATE TABLE IF NOT EXISTS timepoints (
            id          uuid PRIMARY KEY,
            owner_id    uuid        NOT NULL,
            visibility  text        NOT NULL,
            status      text        NOT NULL,
            created_at  timestamptz NOT NULL,
            document    jsonb       NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_timepoints_owner_created ON timepoints (owner_id, created_at DESC, id);
        """;

    public Task StartAsync(CancellationToken cancellationToken) =>
        dataSource.RunExclusivelyAsync(LockKey, ApplyAsync, logger, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task ApplyAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var migrate = new NpgsqlCommand(Script, connection);
        await migrate.ExecuteNonQueryAsync(cancellationToken);
        logger.LogInformation("flashdb schema is up to date.");
    }
}
