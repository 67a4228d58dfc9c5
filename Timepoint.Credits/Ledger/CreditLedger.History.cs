
namespace Timepoint.Credits.Ledger;

/// <summary>What the user reads: the ledger newest first, and the export (account and ledger as of one moment).</summary>
public sealed partial class CreditLedger
{
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
}
