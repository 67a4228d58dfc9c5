using System.Buffers.Binary;
using Npgsql;

namespace Timepoint.Credits.Ledger;

/// <summary>Accounts: created once on first touch (with the signup bonus), never again for a deleted user.</summary>
public sealed partial class CreditLedger
{
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
}
