
namespace Timepoint.Credits.Ledger;

/// <summary>A user's deletion: the account, ledger and reservations go, and the user is remembered.</summary>
public sealed partial class CreditLedger
{
    /// <summary>
    /// Deletes the user's account, ledger, reservations and usage counts, and remembers the user so no account (or signup bonus) is made again.
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

            await using (var usage = tx.Sql("DELETE FROM usage_daily WHERE user_id = @user", ("user", userId)))
            {
                await usage.ExecuteNonQueryAsync(cancellationToken);
            }

            // Reservations and ledger rows go with the account (ON DELETE CASCADE).
            await using var delete = tx.Sql("DELETE FROM accounts WHERE user_id = @user", ("user", userId));
            return await delete.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);
}
