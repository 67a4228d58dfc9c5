using System.Buffers.Binary;
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
/// </summary>
public sealed class CreditLedger
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
        return await ReadLedgerAsync(new Tx(connection, null), userId, limit, offset, cancellationToken);
    }

    /// <summary>
    /// The account and its whole ledger as of one moment, so the balance is the ledger's sum even while charges land; null
    /// when the user was deleted.
    /// </summary>
    public async Task<(Account Account, IReadOnlyList<LedgerEntry> Ledger)?> ExportAsync(Guid userId, CancellationToken cancellationToken)
    {
        if (await GetAccountAsync(userId, cancellationToken) is null)
        {
            return null;
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var tx = new Tx(connection, transaction);
        if (await ReadAccountAsync(tx, userId, cancellationToken) is not { } account)
        {
            return null;
        }

        var ledger = await ReadLedgerAsync(tx, userId, int.MaxValue, 0, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (account, ledger);
    }

    private static async Task<IReadOnlyList<LedgerEntry>> ReadLedgerAsync(Tx tx, Guid userId, int limit, int offset, CancellationToken cancellationToken)
    {
        await using var command = tx.Sql("""
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
    /// One user's concurrent reservations are written in batches (<see cref="reserveBatches"/>). Each reservation row is inserted
    /// before its debit is decided, so a duplicate under the same key replays rather than being refused for a balance its
    /// twin just spent.
    /// </summary>
    public async Task<ReserveOutcome> ReserveAsync(ReserveCommand command, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            // Straight to the batch: almost every key is new (the edge names each call), and a key already taken
            // inserts nothing there and comes back null.
            var outcome = await reserveBatches.RunAsync(command.UserId, command);
            switch (outcome)
            {
                case ReserveOutcome.Reserved { Replayed: false } reserved:
                    metrics.Charged(command.Operation, reserved.Reservation.Amount);
                    return outcome;
                case ReserveOutcome.Insufficient:
                    metrics.Refused(command.Operation, command.Cost);
                    return outcome;
                case null when await FindByKeyAsync(command, cancellationToken) is { } earlier:
                    return earlier; // the key's reservation (or KeyReused when it was made for another request)
                case null when attempt < MaxAttempts:
                    continue; // the twin holding the key was refused in the same batch and took its row back: try again
                case null:
                    throw new InvalidOperationException("Idempotency key conflict could not be resolved.");
                default:
                    return outcome;
            }
        }
    }

    /// <summary>The charge stands. Settling twice is fine; settling a refunded reservation is not.</summary>
    public async Task<SettleOutcome> SettleAsync(Guid reservationId, CancellationToken cancellationToken) =>
        (await SettleManyAsync([reservationId], cancellationToken))[0];

    /// <summary>
    /// Settles reservations in one statement (the edge sends them in batches), each answered as <see cref="SettleAsync"/>
    /// would answer it alone. Touches only reservation rows, never an account, so it waits on no debit.
    /// </summary>
    public async Task<SettleOutcome[]> SettleManyAsync(IReadOnlyList<Guid> reservationIds, CancellationToken cancellationToken)
    {
        var ids = reservationIds.Distinct().Order().ToArray();
        var statuses = new Dictionary<Guid, string>();
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var tx = new Tx(connection, null);
        await using (var settle = tx.Sql("""
            UPDATE reservations SET status = 'settled', updated_at = now()
            WHERE id = ANY(@ids) AND status = 'reserved' RETURNING id
            """, ("ids", ids)))
        await using (var reader = await settle.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                statuses[reader.GetGuid(0)] = ReservationStatus.Settled;
            }
        }

        if (statuses.Count < ids.Length)
        {
            // A statement of its own, so it sees a refund that committed while the update above waited for it.
            await using var status = tx.Sql("SELECT id, status FROM reservations WHERE id = ANY(@ids)",
                ("ids", ids.Where(id => !statuses.ContainsKey(id)).ToArray()));
            await using var reader = await status.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                statuses[reader.GetGuid(0)] = reader.GetString(1);
            }
        }

        return [.. reservationIds.Select(id => statuses.GetValueOrDefault(id) switch
        {
            ReservationStatus.Settled => new SettleOutcome.Settled(),
            ReservationStatus.Refunded => new SettleOutcome.AlreadyRefunded(),
            _ => (SettleOutcome)new SettleOutcome.NotFound(),
        })];
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

    /// <summary>
    /// One transaction for a batch of one user's reservations (see <see cref="reserveBatches"/>): the account row is locked
    /// first and its balance read, each reservation row is inserted under an id chosen here, the commands are charged in
    /// arrival order while the balance lasts, the refused ones' rows are deleted again, and the account and ledger get
    /// one update and one insert for the lot.
    /// </summary>
    private async Task<ReserveOutcome?[]> ReserveBatchAsync(Guid userId, IReadOnlyList<ReserveCommand> commands)
    {
        try
        {
            return await InTransactionAsync(tx => TryReserveBatchAsync(tx, userId, commands, CancellationToken.None), CancellationToken.None);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            // The account was deleted while these reservations were being written.
            return [.. commands.Select(_ => new ReserveOutcome.UserDeleted())];
        }
    }

    private async Task<ReserveOutcome?[]> TryReserveBatchAsync(Tx tx, Guid userId, IReadOnlyList<ReserveCommand> commands,
        CancellationToken cancellationToken)
    {
        var outcomes = new ReserveOutcome?[commands.Count];

        // The account's lock first, the lock order of every path: until the commit no other debit of this user runs.
        var locked = await LockBalanceAsync(tx, userId, cancellationToken);
        if (locked is null)
        {
            if (await EnsureAccountAsync(tx, userId, cancellationToken) is EnsureOutcome.UserDeleted)
            {
                Array.Fill(outcomes, new ReserveOutcome.UserDeleted());
                return outcomes;
            }

            locked = await LockBalanceAsync(tx, userId, cancellationToken);
        }

        // A key taken already (by an earlier twin in this batch, or committed by another transaction) inserts no row:
        // its caller replays the reservation that holds it.
        var ids = commands.Select(_ => Guid.CreateVersion7()).ToArray();
        var opened = new HashSet<Guid>();
        await using (var open = tx.Sql("""
            INSERT INTO reservations (id, user_id, operation, amount, idempotency_key, request_fingerprint)
            SELECT r.id, @user, r.operation, r.amount, r.key, r.fingerprint
            FROM unnest(@ids, @operations, @amounts, @keys, @fingerprints) WITH ORDINALITY AS r(id, operation, amount, key, fingerprint, n)
            ORDER BY r.n
            ON CONFLICT (user_id, idempotency_key) DO NOTHING
            RETURNING id
            """, ("user", userId), ("ids", ids), ("operations", commands.Select(c => c.Operation).ToArray()),
            ("amounts", commands.Select(c => c.Cost).ToArray()), ("keys", commands.Select(c => c.IdempotencyKey).ToArray()),
            ("fingerprints", commands.Select(c => c.RequestFingerprint).ToArray())))
        await using (var reader = await open.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                opened.Add(reader.GetGuid(0));
            }
        }

        var balance = locked!.Value;
        var refused = new List<Guid>();
        var charged = new List<int>();
        var balances = new List<long>();
        for (var i = 0; i < commands.Count; i++)
        {
            var command = commands[i];
            if (!opened.Contains(ids[i]))
            {
                continue; // null: replay the twin
            }

            if (command.Cost > balance)
            {
                outcomes[i] = new ReserveOutcome.Insufficient(command.Cost, balance);
                refused.Add(ids[i]);
                continue;
            }

            balance -= command.Cost;
            charged.Add(i);
            balances.Add(balance);
            outcomes[i] = new ReserveOutcome.Reserved(
                new Reservation(ids[i], command.Operation, command.Cost, ReservationStatus.Reserved, balance), Replayed: false);
        }

        if (refused.Count > 0)
        {
            await using var forget = tx.Sql("DELETE FROM reservations WHERE id = ANY(@ids)", ("ids", refused.ToArray()));
            await forget.ExecuteNonQueryAsync(cancellationToken);
        }

        if (charged.Count == 0)
        {
            return outcomes;
        }

        var total = locked.Value - balance;
        await using (var debit = tx.Sql("""
            UPDATE accounts SET balance = balance - @total, lifetime_spent = lifetime_spent + @total
            WHERE user_id = @user RETURNING balance
            """, ("user", userId), ("total", total)))
        {
            if (await debit.ExecuteScalarAsync(cancellationToken) is not long after || after != balance)
            {
                throw new InvalidOperationException("The locked balance changed under its lock; nothing was charged.");
            }
        }

        var rows = charged.Select(i => commands[i]).ToArray();
        await using var ledger = tx.Sql("""
            INSERT INTO ledger (user_id, amount, balance_after, type, description, reservation_id, idempotency_key, request_fingerprint)
            SELECT @user, -l.amount, l.balance_after, l.type, l.description, l.reservation, l.key, l.fingerprint
            FROM unnest(@amounts, @balances, @types, @descriptions, @reservations, @keys, @fingerprints)
                WITH ORDINALITY AS l(amount, balance_after, type, description, reservation, key, fingerprint, n)
            ORDER BY l.n
            """, ("user", userId), ("amounts", rows.Select(c => c.Cost).ToArray()), ("balances", balances.ToArray()),
            ("types", rows.Select(c => TransactionTypes.ForOperation(c.Operation)).ToArray()),
            ("descriptions", rows.Select(c => c.Operation).ToArray()), ("reservations", charged.Select(i => ids[i]).ToArray()),
            ("keys", rows.Select(c => c.IdempotencyKey).ToArray()), ("fingerprints", rows.Select(c => c.RequestFingerprint).ToArray()));
        await ledger.ExecuteNonQueryAsync(cancellationToken);
        return outcomes;
    }

    private static async Task<long?> LockBalanceAsync(Tx tx, Guid userId, CancellationToken cancellationToken)
    {
        await using var query = tx.Sql("SELECT balance FROM accounts WHERE user_id = @user FOR NO KEY UPDATE", ("user", userId));
        return await query.ExecuteScalarAsync(cancellationToken) as long?;
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
