using Npgsql;

namespace Timepoint.Credits.Tests;

/// <summary>
/// Keeps the concurrency test honest: the same harness, run against a deliberately naive read-modify-write debit
/// (implemented only here, on the service's own schema), must catch it overspending.
/// </summary>
public sealed class HarnessTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    [Fact]
    public async Task The_concurrency_harness_catches_a_naive_read_modify_write_debit()
    {
        var user = await app.NewUser();

        var successes = await ConcurrencyHarness.RunAsync(200, _ => NaiveDebitAsync(app.Database, user, cost: 5));

        var violations = ConcurrencyHarness.Violations(await app.Facts(user), successes, startingBalance: 50, cost: 5);
        Assert.NotEmpty(violations);
        Assert.True(successes > 10, $"The naive debit should overspend; it succeeded {successes} times.");
    }

    /// <summary>Check, then spend: reads the balance, decides in memory, writes the result back. The bug credits must not have.</summary>
    private static async Task<bool> NaiveDebitAsync(NpgsqlDataSource database, Guid user, long cost)
    {
        await using var connection = await database.OpenConnectionAsync();
        long balance;
        await using (var read = new NpgsqlCommand("SELECT balance FROM accounts WHERE user_id = $1", connection))
        {
            read.Parameters.Add(new NpgsqlParameter { Value = user });
            balance = (long)(await read.ExecuteScalarAsync())!;
        }

        if (balance < cost)
        {
            return false;
        }

        await Task.Delay(5); // any work between the check and the write (here, a pause) opens the window
        await using var write = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("UPDATE accounts SET balance = $2, lifetime_spent = lifetime_spent + $3 WHERE user_id = $1")
                {
                    Parameters = { new() { Value = user }, new() { Value = balance - cost }, new() { Value = cost } },
                },
                new NpgsqlBatchCommand("INSERT INTO ledger (user_id, amount, balance_after, type) VALUES ($1, $2, $3, 'generation')")
                {
                    Parameters = { new() { Value = user }, new() { Value = -cost }, new() { Value = balance - cost } },
                },
            },
        };
        await write.ExecuteNonQueryAsync();
        return true;
    }
}
