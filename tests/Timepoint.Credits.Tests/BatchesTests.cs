using Timepoint.ServiceDefaults;

namespace Timepoint.Credits.Tests;

/// <summary>The group commit under the ledger's reservations and the edge's settles.</summary>
public sealed class BatchesTests
{
    [Fact]
    public async Task An_item_on_an_idle_key_runs_at_once_alone_and_items_arriving_meanwhile_share_the_next_batch()
    {
        var release = new TaskCompletionSource();
        var seen = new List<int[]>();
        var batches = new Batches<string, int, int>(async (_, items) =>
        {
            lock (seen)
            {
                seen.Add([.. items]);
            }

            if (items[0] == 0)
            {
                await release.Task;
            }

            return [.. items.Select(i => i * 10)];
        });

        var first = batches.RunAsync("user", 0);
        await WaitUntil(() => { lock (seen) { return seen.Count == 1; } });
        var rest = Enumerable.Range(1, 5).Select(i => batches.RunAsync("user", i)).ToArray();
        release.SetResult();

        Assert.Equal(0, await first);
        Assert.Equal(new[] { 10, 20, 30, 40, 50 }, await Task.WhenAll(rest));
        Assert.Equal(new[] { new[] { 0 }, new[] { 1, 2, 3, 4, 5 } }, seen);
    }

    [Fact]
    public async Task A_batch_holds_at_most_max_batch_items()
    {
        var release = new TaskCompletionSource();
        var sizes = new List<int>();
        var batches = new Batches<int, int, int>(async (_, items) =>
        {
            lock (sizes)
            {
                sizes.Add(items.Count);
            }

            await release.Task;
            return [.. items];
        }, maxBatch: 3);

        var first = batches.RunAsync(1, 0);
        await WaitUntil(() => { lock (sizes) { return sizes.Count == 1; } });
        var rest = Enumerable.Range(1, 7).Select(i => batches.RunAsync(1, i)).ToArray();
        release.SetResult();

        Assert.Equal(0, await first);
        Assert.Equal(Enumerable.Range(1, 7), await Task.WhenAll(rest));
        Assert.Equal(new[] { 1, 3, 3, 1 }, sizes);
    }

    [Fact]
    public async Task Keys_do_not_wait_for_each_other()
    {
        var blocked = new TaskCompletionSource();
        var batches = new Batches<string, int, int>(async (key, items) =>
        {
            if (key == "slow")
            {
                await blocked.Task;
            }

            return [.. items];
        });

        var slow = batches.RunAsync("slow", 1);
        Assert.Equal(2, await batches.RunAsync("fast", 2).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(slow.IsCompleted);
        blocked.SetResult();
        Assert.Equal(1, await slow);
    }

    [Fact]
    public async Task A_failed_batch_fails_every_item_in_it_and_the_key_goes_on_working()
    {
        var release = new TaskCompletionSource();
        var calls = 0;
        var batches = new Batches<int, int, int>(async (_, items) =>
        {
            if (Interlocked.Increment(ref calls) == 2)
            {
                throw new InvalidOperationException("database away");
            }

            await release.Task;
            return [.. items];
        });

        var first = batches.RunAsync(7, 0);
        await WaitUntil(() => Volatile.Read(ref calls) == 1);
        var failing = new[] { batches.RunAsync(7, 1), batches.RunAsync(7, 2) };
        release.SetResult();

        Assert.Equal(0, await first);
        foreach (var item in failing)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => item);
        }

        Assert.Equal(3, await batches.RunAsync(7, 3));
    }

    [Fact]
    public async Task A_batch_that_answers_the_wrong_number_of_results_fails_its_items()
    {
        var batches = new Batches<int, int, int>((_, _) => Task.FromResult(Array.Empty<int>()));

        await Assert.ThrowsAsync<InvalidOperationException>(() => batches.RunAsync(1, 1));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(5);
        }
    }
}
