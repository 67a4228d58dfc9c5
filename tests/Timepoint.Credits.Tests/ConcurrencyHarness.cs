namespace Timepoint.Credits.Tests;

/// <summary>
/// Fires many attempts to spend at once and checks the ledger afterwards. The same harness runs the real reserve route and,
/// in <see cref="HarnessTests"/>, a deliberately naive debit, to prove it notices double spending.
/// </summary>
public static class ConcurrencyHarness
{
    /// <summary>Starts <paramref name="attempts"/> calls together (released by one gate) and counts those that succeeded.</summary>
    public static async Task<int> RunAsync(int attempts, Func<int, Task<bool>> attempt)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = Enumerable.Range(0, attempts).Select(async i =>
        {
            await gate.Task;
            return await attempt(i);
        }).ToArray();
        gate.SetResult();
        var results = await Task.WhenAll(calls);
        return results.Count(succeeded => succeeded);
    }

    /// <summary>A reserve answered 200 (charged) or 402 (refused); anything else fails the test.</summary>
    public static async Task<bool> Charged(HttpResponseMessage response) => response.StatusCode switch
    {
        System.Net.HttpStatusCode.OK => true,
        System.Net.HttpStatusCode.PaymentRequired => false,
        var other => throw new InvalidOperationException($"Unexpected {(int)other}: {await response.Content.ReadAsStringAsync()}"),
    };

    /// <summary>
    /// Everything that must hold after spending a starting balance at a fixed cost: the number of successes the balance
    /// allows, the balance left, one debit row per success, a ledger that sums to the balance, and no negative balance_after.
    /// </summary>
    public static IReadOnlyList<string> Violations(LedgerFacts facts, int successes, long startingBalance, long cost)
    {
        var affordable = (int)(startingBalance / cost);
        var violations = new List<string>();
        if (successes != affordable)
        {
            violations.Add($"{successes} debits succeeded; the balance allowed {affordable}");
        }

        if (facts.Balance != startingBalance - (affordable * cost))
        {
            violations.Add($"balance is {facts.Balance}, expected {startingBalance - (affordable * cost)}");
        }

        if (facts.Debits != successes)
        {
            violations.Add($"{facts.Debits} debit rows for {successes} successes");
        }

        if (facts.LedgerSum != facts.Balance)
        {
            violations.Add($"ledger sums to {facts.LedgerSum} but the balance is {facts.Balance}");
        }

        if (facts.MinBalanceAfter < 0)
        {
            violations.Add($"a ledger row has balance_after {facts.MinBalanceAfter}");
        }

        return violations;
    }
}
