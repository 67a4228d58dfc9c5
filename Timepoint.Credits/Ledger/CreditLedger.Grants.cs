using Npgsql;

namespace Timepoint.Credits.Ledger;

/// <summary>Credits added by an operator (or a refund granted by hand).</summary>
public sealed partial class CreditLedger
{
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
}
