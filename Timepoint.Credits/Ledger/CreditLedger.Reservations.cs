using Npgsql;

namespace Timepoint.Credits.Ledger;

/// <summary>Reservations: the debit of a metered call, decided under the account row's lock, in batches per user.</summary>
public sealed partial class CreditLedger
{
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
                case ReserveOutcome.Insufficient or ReserveOutcome.KeyLimitReached:
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

    /// <summary>
    /// One transaction for a batch of one user's reservations (see <see cref="reserveBatches"/>): the account row is locked
    /// first and its balance read, each reservation row is inserted under an id chosen here, the commands are charged in
    /// arrival order while the balance (and each capped key's cap) lasts, the refused ones' rows are deleted again, and the
    /// account and ledger get one update and one insert for the lot.
    /// <para>
    /// A key belongs to one user, so the account's lock also serialises every reservation of the key: what the key has spent
    /// in its period is read under it, before this batch's rows exist, and cannot change until the commit except by a
    /// refund, which takes the same lock first. Concurrent calls on a capped key therefore never spend past the cap.
    /// </para>
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

        var keySpent = await KeySpendingAsync(tx, userId, commands, cancellationToken);

        // A key taken already (by an earlier twin in this batch, or committed by another transaction) inserts no row:
        // its caller replays the reservation that holds it.
        var ids = commands.Select(_ => Guid.CreateVersion7()).ToArray();
        var opened = new HashSet<Guid>();
        await using (var open = tx.Sql("""
            INSERT INTO reservations (id, user_id, operation, amount, idempotency_key, request_fingerprint, api_key_id)
            SELECT r.id, @user, r.operation, r.amount, r.key, r.fingerprint, r.api_key
            FROM unnest(@ids, @operations, @amounts, @keys, @fingerprints, @api_keys)
                WITH ORDINALITY AS r(id, operation, amount, key, fingerprint, api_key, n)
            ORDER BY r.n
            ON CONFLICT (user_id, idempotency_key) DO NOTHING
            RETURNING id
            """, ("user", userId), ("ids", ids), ("operations", commands.Select(c => c.Operation).ToArray()),
            ("amounts", commands.Select(c => c.Cost).ToArray()), ("keys", commands.Select(c => c.IdempotencyKey).ToArray()),
            ("fingerprints", commands.Select(c => c.RequestFingerprint).ToArray()), ApiKeyIds(commands)))
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

            // The key's cap first: a key at its cap is refused as such even when the balance is short too.
            if (command.KeyLimit is { } cap && command.ApiKeyId is { } keyId
                && cap.Amount - keySpent.GetValueOrDefault((keyId, cap.Period)) is var left && command.Cost > left)
            {
                outcomes[i] = new ReserveOutcome.KeyLimitReached(command.Cost, Math.Max(0, left));
                refused.Add(ids[i]);
                continue;
            }

            if (command.Cost > balance)
            {
                outcomes[i] = new ReserveOutcome.Insufficient(command.Cost, balance);
                refused.Add(ids[i]);
                continue;
            }

            balance -= command.Cost;
            if (command.ApiKeyId is { } spender)
            {
                // A charge counts in every period of its key (commands of one batch may carry the cap read at different times).
                foreach (var period in keySpent.Keys.Where(k => k.Key == spender).ToList())
                {
                    keySpent[period] += command.Cost;
                }
            }

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
            INSERT INTO ledger (user_id, amount, balance_after, type, description, reservation_id, idempotency_key, request_fingerprint,
                api_key_id)
            SELECT @user, -l.amount, l.balance_after, l.type, l.description, l.reservation, l.key, l.fingerprint, l.api_key
            FROM unnest(@amounts, @balances, @types, @descriptions, @reservations, @keys, @fingerprints, @api_keys)
                WITH ORDINALITY AS l(amount, balance_after, type, description, reservation, key, fingerprint, api_key, n)
            ORDER BY l.n
            """, ("user", userId), ("amounts", rows.Select(c => c.Cost).ToArray()), ("balances", balances.ToArray()),
            ("types", rows.Select(c => TransactionTypes.ForOperation(c.Operation)).ToArray()),
            ("descriptions", rows.Select(c => c.Operation).ToArray()), ("reservations", charged.Select(i => ids[i]).ToArray()),
            ("keys", rows.Select(c => c.IdempotencyKey).ToArray()), ("fingerprints", rows.Select(c => c.RequestFingerprint).ToArray()),
            ApiKeyIds(rows));
        await ledger.ExecuteNonQueryAsync(cancellationToken);
        return outcomes;
    }

    /// <summary>The uuid[] parameter of the commands' API keys (null for a signed-in user's calls).</summary>
    private static (string, object?) ApiKeyIds(IReadOnlyList<ReserveCommand> commands) =>
        ("api_keys", commands.Select(c => c.ApiKeyId).ToArray());

    /// <summary>
    /// What each capped key of the batch has spent in each period its commands name (reservations not refunded, by the
    /// database's clock: UTC day and month), read under the account's lock.
    /// </summary>
    private static async Task<Dictionary<(Guid Key, string Period), long>> KeySpendingAsync(Tx tx, Guid userId,
        IReadOnlyList<ReserveCommand> commands, CancellationToken cancellationToken)
    {
        var spent = new Dictionary<(Guid Key, string Period), long>();
        foreach (var (key, period) in commands.Where(c => c.ApiKeyId is not null && c.KeyLimit is not null)
            .Select(c => (c.ApiKeyId!.Value, c.KeyLimit!.Period)).Distinct())
        {
            await using var query = tx.Sql($"""
                SELECT COALESCE(sum(amount), 0)::bigint FROM reservations
                WHERE api_key_id = @key AND user_id = @user AND status <> 'refunded' AND {PeriodStart("@period")}
                """, ("key", key), ("user", userId), ("period", period));
            spent[(key, period)] = (long)(await query.ExecuteScalarAsync(cancellationToken))!;
        }

        return spent;
    }

    /// <summary>SQL: the reservation was made in the current period (<c>day</c>, <c>month</c>: UTC; <c>total</c>: ever).</summary>
    private static string PeriodStart(string period) =>
        $"({period} = 'total' OR created_at >= date_trunc({period}, now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')";

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
}
