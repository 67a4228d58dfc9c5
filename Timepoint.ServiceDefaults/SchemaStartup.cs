using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace Timepoint.ServiceDefaults;

/// <summary>
/// Start-up schema work shared by the services that own a database: replicas starting together take turns under a
/// PostgreSQL session advisory lock, and a database that is still starting (a transient error) is waited for rather
/// than crash-looped on. The work must be idempotent: it runs again whole after a transient failure.
/// </summary>
public static partial class SchemaStartup
{
    public static readonly TimeSpan DefaultPatience = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Holds the advisory lock <paramref name="lockKey"/> on a connection of its own while <paramref name="work"/> runs
    /// (the work opens whatever connections it needs), retrying transient database errors until
    /// <paramref name="patience"/> has passed.
    /// </summary>
    public static async Task RunExclusivelyAsync(this DbDataSource dataSource, long lockKey, Func<CancellationToken, Task> work,
        ILogger logger, CancellationToken cancellationToken, TimeSpan? patience = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? DefaultPatience);
        while (true)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
                await AdvisoryLockAsync(connection, "pg_advisory_lock", lockKey, cancellationToken);
                try
                {
                    await work(cancellationToken);
                }
                finally
                {
                    // A broken connection has released the lock with its session.
                    if (connection.State == System.Data.ConnectionState.Open)
                    {
                        await AdvisoryLockAsync(connection, "pg_advisory_unlock", lockKey, CancellationToken.None);
                    }
                }

                return;
            }
            catch (DbException ex) when (ex.IsTransient && DateTime.UtcNow < deadline)
            {
                LogDatabaseNotReady(logger, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    private static async Task AdvisoryLockAsync(DbConnection connection, string function, long lockKey, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {function}($1)";
        var key = command.CreateParameter();
        key.Value = lockKey;
        command.Parameters.Add(key);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database is not reachable yet ({Reason}); retrying.")]
    private static partial void LogDatabaseNotReady(ILogger logger, string reason);
}
