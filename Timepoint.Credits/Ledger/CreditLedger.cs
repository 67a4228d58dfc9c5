using Microsoft.Extensions.Options;
using Npgsql;
using Timepoint.ServiceDefaults;

namespace Timepoint.Credits.Ledger;

/// <summary>
/// Every balance change is one transaction that changes the account row and writes the ledger rows with their
/// <c>balance_after</c>. Grants and refunds are relative updates (<c>balance = balance + @amount</c>); reservations lock the
/// account row before they read the balance they decide on, and the <c>balance >= 0</c> check backs both. So concurrency
/// cannot overspend.
/// Row locks are taken account first, reservation second, on every path that takes both, so paths cannot deadlock
/// each other; a deadlock or serialization failure that PostgreSQL still reports is retried.
/// <para>
/// One concern a file: accounts (<c>CreditLedger.Accounts.cs</c>), history and export, grants, reservations (with the API
/// keys' caps), settlements and refunds, usage, deletion; this file holds what they share (transactions, ledger rows).
/// </para>
/// </summary>
public sealed partial class CreditLedger
{
    // Namespace of the per-user advisory locks that serialise account creation against deletion.
    private const int AccountLockSpace = 0x4352; // "CR"
    private const int MaxAttempts = 3;

    /// <summary>
    /// An account's balance is one row, and every debit holds that row's lock until its commit is on disk, so one user's
    /// reservations can only run one transaction at a time: those that arrive meanwhile share the next one.
    /// </summary>
    private readonly Batches<Guid, ReserveCommand, ReserveOutcome?> reserveBatches;
    private readonly NpgsqlDataSource db;
    private readonly IOptions<CreditsOptions> options;
    private readonly CreditsMetrics metrics;

    public CreditLedger(NpgsqlDataSource db, IOptions<CreditsOptions> options, CreditsMetrics metrics)
    {
        this.db = db;
        this.options = options;
        this.metrics = metrics;
        reserveBatches = new(ReserveBatchAsync);
    }

    private CreditsOptions Options => options.Value;

    private static async Task InsertLedgerAsync(Tx tx, Guid userId, long amount, long balanceAfter, string type, string? description,
        Guid? reservationId, string? idempotencyKey, string? fingerprint, CancellationToken cancellationToken, Guid? apiKeyId = null)
    {
        await using var insert = tx.Sql("""
            INSERT INTO ledger (user_id, amount, balance_after, type, description, reservation_id, idempotency_key, request_fingerprint,
                api_key_id)
            VALUES (@user, @amount, @balance_after, @type, @description, @reservation, @key, @fingerprint, @api_key)
            """, ("user", userId), ("amount", amount), ("balance_after", balanceAfter), ("type", type), ("description", description),
            ("reservation", reservationId), ("key", idempotencyKey), ("fingerprint", fingerprint), ("api_key", apiKeyId));
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<T> InTransactionAsync<T>(Func<Tx, Task<T>> work, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var tx = new Tx(connection, transaction);
            try
            {
                var result = await work(tx);
                await transaction.CommitAsync(cancellationToken);
                return result;
            }
            catch (PostgresException ex) when (attempt < MaxAttempts &&
                ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure)
            {
                // Nothing was committed; run the whole transaction again.
            }
        }
    }

    /// <summary>A connection and (optionally) its transaction, with a shorthand for parameterised commands.</summary>
    private sealed class Tx(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        public NpgsqlCommand Sql(string sql, params (string Name, object? Value)[] parameters)
        {
            var command = new NpgsqlCommand(sql, connection, transaction);
            foreach (var (name, value) in parameters)
            {
                command.Parameters.Add(new NpgsqlParameter(name, value ?? DBNull.Value));
            }

            return command;
        }
    }
}
