
namespace Timepoint.Credits.Ledger;

/// <summary>What happens to a reservation afterwards: it stands (settle), or its credits come back (refund, exactly once).</summary>
public sealed partial class CreditLedger
{
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
        Guid? apiKeyId = null;
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
                    WHERE id = @id AND status = 'reserved' RETURNING operation, amount, api_key_id
                    """, ("id", reservationId)))
                await using (var reader = await flip.ExecuteReaderAsync(cancellationToken))
                {
                    if (await reader.ReadAsync(cancellationToken))
                    {
                        operation = reader.GetString(0);
                        amount = reader.GetInt64(1);
                        apiKeyId = reader.IsDBNull(2) ? null : reader.GetGuid(2);
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
                        reservationId, null, null, cancellationToken, apiKeyId);
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
}
