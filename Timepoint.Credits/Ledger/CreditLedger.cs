using System.Buffers.Binary;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Timepoint.Credits.Ledger;

/// <summary>
/// Every balance change: one transaction holding a conditional <c>UPDATE accounts ... RETURNING balance</c> and the ledger row
/// with its <c>balance_after</c>. Nothing is read, changed in memory and written back, so concurrency cannot overspend.
/// Row locks are taken account first, reservation second, on every path that takes both, so paths cannot deadlock
/// each other; a deadlock or serialization failure that PostgreSQL still reports is retried.
/// </summary>
public sealed class CreditLedger(NpgsqlDataSource db, IOptions<CreditsOptions> options, CreditsMetrics metrics)
{
    // Namespace of the per-user advisory locks that serialise account creation against deletion.
    private const int AccountLockSpace = 0x4352; // "CR"
    private const int MaxAttempts = 3;

    private CreditsOptions Options => options.Value;

    public Task<EnsureOutcome> EnsureAccountAsync(Guid userId, CancellationToken cancellationToken) =>
        InTransactionAsync(tx => EnsureAccountAsync(tx, userId, cancellationToken), cancellationToken);

    /// <summary>The caller's account, created on first touch; null when the user was deleted.</summary>
    public async Task<Account?> GetAccountAsync(Guid userId, CancellationToken cancellationToken)
    {
        await using (var connection = await db.OpenConnectionAsync(cancellationToken))
        {
            if (await ReadAccountAsync(new Tx(connection, null), userId, cancellationToken) is { } account)
            {
                return account;
            }
        }

        return await EnsureAccountAsync(userId, cancellationToken) is EnsureOutcome.Ready ready ? ready.Account : null;
    }

    /// <summary>The caller's ledger, newest first; null when the user was deleted.</summary>
    public async Task<IReadOnlyList<LedgerEntry>?> GetHistoryAsync(Guid userId, int limit, int offset, CancellationToken cancellationToken)
    {
        if (await GetAccountAsync(userId, cancellationToken) is null)
        {
            return null;
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var command = new Tx(connection, null).Sql("""
            SELECT id, amount, balance_after, type, description, created_at
            FROM ledger WHERE user_id = @user ORDER BY id DESC LIMIT @limit OFFSET @offset
            """, ("user", userId), ("limit", limit), ("offset", offset));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<LedgerEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new LedgerEntry(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return entries;
    }

    /// <summary>Adds credits (creating the account, with its signup bonus, if credits has not seen the user yet).</summary>
    public async Task<GrantOutcome> GrantAsync(Guid userId, long amount, string type, string? description, CancellationToken cancellationToken)
    {
        try
        {
            var outcome = await InTransactionAsync<GrantOutcome>(async tx =>
            {
                if (await EnsureAccountAsync(tx, userId, cancellationToken) is EnsureOutcome.UserDeleted)
                {
                    return new GrantOutcome.UserDeleted();
                }

                await using var credit = tx.Sql("""
                    UPDATE accounts SET balance = balance + @amount, lifetime_earned = lifetime_earned + @amount
                    WHERE user_id = @user RETURNING balance
                    """, ("user", userId), ("amount", amount));
                if (await credit.ExecuteScalarAsync(cancellationToken) is not long balance)
                {
                    return new GrantOutcome.UserDeleted(); // deleted between the two statements
                }

                await InsertLedgerAsync(tx, userId, amount, balance, type, description, null, null, null, cancellationToken);
                return new GrantOutcome.Granted(balance, amount);
            }, cancellationToken);

            if (outcome is GrantOutcome.Granted)
            {
                metrics.Granted(type, amount);
            }

            return outcome;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.NumericValueOutOfRange)
        {
            return new GrantOutcome.BalanceOverflow();
        }
    }

    /// <summary>
    /// Debits the operation's cost and opens a reservation, or replays the reservation already made under the same idempotency key.
    /// The reservation row is inserted before the debit, so a concurrent duplicate waits on the unique key and then replays
    /// rather than being refused for a balance its twin just spent.
    /// </summary>
    public async Task<ReserveOutcome> ReserveAsync(ReserveCommand command, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (command.IdempotencyKey is not null && await FindByKeyAsync(command, cancellationToken) is { } earlier)
            {
                return earlier;
            }

            ReserveOutcome? outcome;
            try
            {
                outcome = await InTransactionAsync(tx => TryReserveAsync(tx, command, cancellationToken), cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ForeignKeyViolation)
            {
                // The account was deleted while this reservation was being written.
                return new ReserveOutcome.UserDeleted();
            }

            switch (outcome)
            {
                case ReserveOutcome.Reserved { Replayed: false } reserved:
                    metrics.Charged(command.Operation, reserved.Reservation.Amount);
                    return outcome;
                case ReserveOutcome.Insufficient:
                    metrics.Refused(command.Operation, command.Cost);
                    return outcome;
                case null when attempt < MaxAttempts:
                    continue; // lost the race for the idempotency key: replay the winner
                case null:
                    throw new InvalidOperationException("Idempotency key conflict could not be resolved.");
                default:
                    return outcome;
            }
        }
    }

    /// <summary>The charge stands. Settling twice is fine; settling a refunded reservation is not.</summary>
    public async Task<SettleOutcome> SettleAsync(Guid reservationId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var tx = new Tx(connection, null);
        await using (var settle = tx.Sql("""
            UPDATE reservations SET status = 'settled', updated_at = now()
            WHERE id = @id AND status = 'reserved' RETURNING id
            """, ("id", reservationId)))
        {
            if (await settle.ExecuteScalarAsync(cancellationToken) is Guid)
            {
                return new SettleOutcome.Settled();
            }
        }

        // A statement of its own, so it sees a refund that committed while the update above waited for it.
        await using var status = tx.Sql("SELECT status FROM reservations WHERE id = @id", ("id", reservationId));
        return await status.ExecuteScalarAsync(cancellationToken) switch
        {
            ReservationStatus.Settled => new SettleOutcome.Settled(),
            ReservationStatus.Refunded => new SettleOutcome.AlreadyRefunded(),
            _ => new SettleOutcome.NotFound(),
        };
    }

    /// <summary>
    /// Gives the reservation's credits back, exactly once: the status flip <c>reserved -> refunded</c> is conditional and in the
    /// same transaction as the credit and its ledger row, so a repeated or concurrent refund finds nothing to flip and
    /// answers with the first refund's result.
    /// </summary>
    public async Task<RefundOutcome> RefundAsync(Guid reservationId, string? reason, CancellationToken cancellationToken)
    {
        string? operation = null;
        long amount = 0;
        var outcome = await InTransactionAsync<RefundOutcome>(async tx =>
        {
            operation = null;
            await using (var owner = tx.Sql("SELECT user_id FROM reservations WHERE id = @id", ("id", reservationId)))
            {
                if (await owner.ExecuteScalarAsync(cancellationToken) is not Guid userId)
                {
                    return new RefundOutcome.NotFound();
                }

                // Account first, then reservation: the lock order of every path.
                await using (var lockAccount = tx.Sql("SELECT 1 FROM accounts WHERE user_id = @user FOR NO KEY UPDATE", ("user", userId)))
                {
                    await lockAccount.ExecuteScalarAsync(cancellationToken);
                }

                await using (var flip = tx.Sql("""
                    UPDATE reservations SET status = 'refunded', updated_at = now()
                    WHERE id = @id AND status = 'reserved' RETURNING operation, amount
                    """, ("id", reservationId)))
                await using (var reader = await flip.ExecuteReaderAsync(cancellationToken))
                {
                    if (await reader.ReadAsync(cancellationToken))
                    {
                        operation = reader.GetString(0);
                        amount = reader.GetInt64(1);
                    }
                }

                if (operation is not null)
                {
                    await using var credit = tx.Sql("""
                        UPDATE accounts SET balance = balance + @amount, lifetime_spent = lifetime_spent - @amount
                        WHERE user_id = @user RETURNING balance
                        """, ("user", userId), ("amount", amount));
                    var balance = (long)(await credit.ExecuteScalarAsync(cancellationToken))!;
                    await InsertLedgerAsync(tx, userId, amount, balance, TransactionTypes.Refund, reason ?? $"Refund: {operation}",
                        reservationId, null, null, cancellationToken);
                    return new RefundOutcome.Refunded(balance, AlreadyDone: false);
                }
            }

            await using var earlier = tx.Sql("""
                SELECT r.status, l.balance_after FROM reservations r
                LEFT JOIN ledger l ON l.reservation_id = r.id AND l.amount > 0
                WHERE r.id = @id
                """, ("id", reservationId));
            await using var row = await earlier.ExecuteReaderAsync(cancellationToken);
            if (!await row.ReadAsync(cancellationToken))
            {
                return new RefundOutcome.NotFound();
            }

            return row.GetString(0) switch
            {
                ReservationStatus.Refunded => new RefundOutcome.Refunded(row.GetInt64(1), AlreadyDone: true),
                _ => new RefundOutcome.AlreadySettled(),
            };
        }, cancellationToken);

        if (outcome is RefundOutcome.Refunded { AlreadyDone: false })
        {
            metrics.Refunded(operation!, amount);
        }

        return outcome;
    }

    /// <summary>
    /// Deletes the user's account, ledger and reservations, and remembers the user so no account (or signup bonus) is made again.
    /// Locks the account first, so a reservation being written finishes before (and is deleted with) the rest.
    /// </summary>
    public Task DeleteUserAsync(Guid userId, CancellationToken cancellationToken) =>
        InTransactionAsync(async tx =>
        {
            await LockUserAsync(tx, userId, cancellationToken);
            await using (var tombstone = tx.Sql("INSERT INTO deleted_users (user_id) VALUES (@user) ON CONFLICT DO NOTHING", ("user", userId)))
            {
                await tombstone.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var lockAccount = tx.Sql("SELECT 1 FROM accounts WHERE user_id = @user FOR UPDATE", ("user", userId)))
            {
                await lockAccount.ExecuteScalarAsync(cancellationToken);
            }

            // Reservations and ledger rows go with the account (ON DELETE CASCADE).
            await using var delete = tx.Sql("DELETE FROM accounts WHERE user_id = @user", ("user", userId));
            return await delete.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    /// <summary>Reservations still open after <paramref name="olderThan"/>, by the database's clock (the same for every replica).</summary>
    public async Task<IReadOnlyList<Guid>> FindStaleReservationsAsync(TimeSpan olderThan, int max, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var command = new Tx(connection, null).Sql("""
            SELECT id FROM reservations
            WHERE status = 'reserved' AND created_at < now() - make_interval(secs => @seconds)
            ORDER BY created_at LIMIT @max
            """, ("seconds", olderThan.TotalSeconds), ("max", max));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<Guid>();
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    private async Task<ReserveOutcome?> TryReserveAsync(Tx tx, ReserveCommand command, CancellationToken cancellationToken)
    {
        if (await ReadAccountAsync(tx, command.UserId, cancellationToken) is null &&
            await EnsureAccountAsync(tx, command.UserId, cancellationToken) is EnsureOutcome.UserDeleted)
        {
            return new ReserveOutcome.UserDeleted();
        }

        Guid reservationId;
        await using (var open = tx.Sql("""
            INSERT INTO reservations (user_id, operation, amount, idempotency_key, request_fingerprint)
            VALUES (@user, @operation, @amount, @key, @fingerprint)
            ON CONFLICT (user_id, idempotency_key) DO NOTHING
            RETURNING id
            """, ("user", command.UserId), ("operation", command.Operation), ("amount", command.Cost),
            ("key", command.IdempotencyKey), ("fingerprint", command.RequestFingerprint)))
        {
            if (await open.ExecuteScalarAsync(cancellationToken) is not Guid id)
            {
                await tx.AbandonAsync(cancellationToken);
                return null; // a concurrent twin under the same key committed first
            }

            reservationId = id;
        }

        await using (var debit = tx.Sql("""
            UPDATE accounts SET balance = balance - @cost, lifetime_spent = lifetime_spent + @cost
            WHERE user_id = @user AND balance >= @cost
            RETURNING balance
            """, ("user", command.UserId), ("cost", command.Cost)))
        {
            if (await debit.ExecuteScalarAsync(cancellationToken) is long balance)
            {
                await InsertLedgerAsync(tx, command.UserId, -command.Cost, balance, TransactionTypes.ForOperation(command.Operation),
                    command.Operation, reservationId, command.IdempotencyKey, command.RequestFingerprint, cancellationToken);
                return new ReserveOutcome.Reserved(
                    new Reservation(reservationId, command.Operation, command.Cost, ReservationStatus.Reserved, balance), Replayed: false);
            }
        }

        var available = (await ReadAccountAsync(tx, command.UserId, cancellationToken))?.Balance;
        await tx.AbandonAsync(cancellationToken);
        return available is { } credits
            ? new ReserveOutcome.Insufficient(command.Cost, credits)
            : new ReserveOutcome.UserDeleted();
    }

    private async Task<ReserveOutcome?> FindByKeyAsync(ReserveCommand command, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var query = new Tx(connection, null).Sql("""
            SELECT r.id, r.operation, r.amount, r.status, r.request_fingerprint, l.balance_after
            FROM reservations r JOIN ledger l ON l.reservation_id = r.id AND l.amount < 0
            WHERE r.user_id = @user AND r.idempotency_key = @key
            """, ("user", command.UserId), ("key", command.IdempotencyKey));
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var fingerprint = reader.IsDBNull(4) ? null : reader.GetString(4);
        if (!string.Equals(reader.GetString(1), command.Operation, StringComparison.Ordinal) ||
            !string.Equals(fingerprint, command.RequestFingerprint, StringComparison.Ordinal))
        {
            return new ReserveOutcome.KeyReused();
        }

        return new ReserveOutcome.Reserved(
            new Reservation(reader.GetGuid(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetInt64(5)),
            Replayed: true);
    }

    /// <summary>
    /// Creates the account with the signup bonus, once: the insert is <c>ON CONFLICT DO NOTHING</c>, so of any number of
    /// concurrent first touches exactly one creates it and writes the bonus row. A deleted user gets no account.
    /// </summary>
    private async Task<EnsureOutcome> EnsureAccountAsync(Tx tx, Guid userId, CancellationToken cancellationToken)
    {
        // Serialises creation with deletion, so a creation that started before a deletion committed cannot miss its tombstone.
        await LockUserAsync(tx, userId, cancellationToken);
        var bonus = Options.SignupBonus;
        await using (var create = tx.Sql("""
            INSERT INTO accounts (user_id, balance, lifetime_earned)
            SELECT @user, @bonus, @bonus
            WHERE NOT EXISTS (SELECT 1 FROM deleted_users WHERE user_id = @user)
            ON CONFLICT (user_id) DO NOTHING
            RETURNING balance
            """, ("user", userId), ("bonus", bonus)))
        {
            if (await create.ExecuteScalarAsync(cancellationToken) is long)
            {
                if (bonus > 0)
                {
                    await InsertLedgerAsync(tx, userId, bonus, bonus, TransactionTypes.SignupBonus, "Signup bonus", null, null, null, cancellationToken);
                    metrics.Granted(TransactionTypes.SignupBonus, bonus);
                }

                return new EnsureOutcome.Ready(new Account(bonus, bonus, 0), Created: true);
            }
        }

        return await ReadAccountAsync(tx, userId, cancellationToken) is { } account
            ? new EnsureOutcome.Ready(account, Created: false)
            : new EnsureOutcome.UserDeleted();
    }

    private static async Task<Account?> ReadAccountAsync(Tx tx, Guid userId, CancellationToken cancellationToken)
    {
        await using var query = tx.Sql("SELECT balance, lifetime_earned, lifetime_spent FROM accounts WHERE user_id = @user", ("user", userId));
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new Account(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)) : null;
    }

    private static async Task LockUserAsync(Tx tx, Guid userId, CancellationToken cancellationToken)
    {
        await using var command = tx.Sql("SELECT pg_advisory_xact_lock(@space, @key)", ("space", AccountLockSpace), ("key", LockKey(userId)));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A stable 32-bit key for the user's advisory lock (a collision only makes two users take turns).</summary>
    private static int LockKey(Guid userId)
    {
        Span<byte> bytes = stackalloc byte[16];
        userId.TryWriteBytes(bytes);
        return BinaryPrimitives.ReadInt32LittleEndian(bytes) ^ BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]) ^
            BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]) ^ BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]);
    }

    private static async Task InsertLedgerAsync(Tx tx, Guid userId, long amount, long balanceAfter, string type, string? description,
        Guid? reservationId, string? idempotencyKey, string? fingerprint, CancellationToken cancellationToken)
    {
        await using var insert = tx.Sql("""
            INSERT INTO ledger (user_id, amount, balance_after, type, description, reservation_id, idempotency_key, request_fingerprint)
            VALUES (@user, @amount, @balance_after, @type, @description, @reservation, @key, @fingerprint)
            """, ("user", userId), ("amount", amount), ("balance_after", balanceAfter), ("type", type), ("description", description),
            ("reservation", reservationId), ("key", idempotencyKey), ("fingerprint", fingerprint));
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
                if (!tx.Abandoned)
                {
                    await transaction.CommitAsync(cancellationToken);
                }

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
        public bool Abandoned { get; private set; }

        public NpgsqlCommand Sql(string sql, params (string Name, object? Value)[] parameters)
        {
            var command = new NpgsqlCommand(sql, connection, transaction);
            foreach (var (name, value) in parameters)
            {
                command.Parameters.Add(new NpgsqlParameter(name, value ?? DBNull.Value));
            }

            return command;
        }

        public async Task AbandonAsync(CancellationToken cancellationToken)
        {
            await transaction!.RollbackAsync(cancellationToken);
            Abandoned = true;
        }
    }
}
