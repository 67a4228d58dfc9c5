using Npgsql;

namespace Timepoint.Flash.Stub.Storage;

/// <summary>
/// Applies flash's schema at start. Hosted services start before the server listens, so the service never reports
/// healthy on a missing table. Idempotent and serialized by an advisory lock, so several replicas may start at once.
/// </summary>
public sealed class FlashSchema(NpgsqlDataSource dataSource, ILogger<FlashSchema> logger) : IHostedService
{
    // Any constant shared by every replica; "flash" in ASCII.
    private const long LockKey = 0x666C617368;
    private static readonly TimeSpan StartupPatience = TimeSpan.FromSeconds(30);

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

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // PostgreSQL may still be starting with the service; wait for it a little rather than crash-looping.
        var deadline = DateTime.UtcNow + StartupPatience;
        while (true)
        {
            try
            {
                await ApplyAsync(cancellationToken);
                return;
            }
            catch (NpgsqlException ex) when (ex.IsTransient && DateTime.UtcNow < deadline)
            {
                logger.LogWarning("flashdb is not reachable yet ({Message}); retrying.", ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task ApplyAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var acquire = new NpgsqlCommand("SELECT pg_advisory_lock($1)", connection))
        {
            acquire.Parameters.AddWithValue(LockKey);
            await acquire.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            await using var migrate = new NpgsqlCommand(Script, connection);
            await migrate.ExecuteNonQueryAsync(cancellationToken);
            logger.LogInformation("flashdb schema is up to date.");
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection);
            release.Parameters.AddWithValue(LockKey);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }
}
