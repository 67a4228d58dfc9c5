using System.Collections.Concurrent;

namespace Timepoint.ServiceDefaults;

/// <summary>
/// Group commit: items that arrive for a key while a batch of that key is running wait, and then run together in the
/// next batch (at most <see cref="MaxBatch"/>, in arrival order). An item that finds its key idle runs at once, alone,
/// so nothing waits unless there is something to share. Keys run independently of each other.
/// </summary>
/// <remarks>
/// A batch runs without its callers' cancellation: they wait for it, so no caller is told "cancelled" about work that
/// was done. When a batch fails, every item in it gets the exception.
/// </remarks>
public sealed class Batches<TKey, TItem, TResult>(Func<TKey, IReadOnlyList<TItem>, Task<TResult[]>> runBatch, int maxBatch = 64)
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Lane> lanes = new();

    public int MaxBatch { get; } = maxBatch > 0 ? maxBatch : throw new ArgumentOutOfRangeException(nameof(maxBatch));

    /// <summary>
    /// Keys with items waiting or running now. Bounded by construction: a lane goes as soon as it has drained, so there
    /// are never more lanes (or waiting items) than callers waiting for a result.
    /// </summary>
    public int Lanes => lanes.Count;

    /// <summary>The item's result, from the batch it ran in.</summary>
    public Task<TResult> RunAsync(TKey key, TItem item)
    {
        var waiting = new Waiting(item);
        while (true)
        {
            var lane = lanes.GetOrAdd(key, _ => new Lane());
            lock (lane)
            {
                if (lane.Retired)
                {
                    continue; // emptied and removed just now: take (or make) the key's current lane
                }

                lane.Items.Add(waiting);
                if (lane.Running)
                {
                    return waiting.Result.Task;
                }

                lane.Running = true;
            }

            _ = Task.Run(() => DrainAsync(key, lane));
            return waiting.Result.Task;
        }
    }

    private async Task DrainAsync(TKey key, Lane lane)
    {
        while (true)
        {
            Waiting[] batch;
            lock (lane)
            {
                if (lane.Items.Count == 0)
                {
                    lane.Retired = true;
                    lanes.TryRemove(new KeyValuePair<TKey, Lane>(key, lane));
                    return;
                }

                var count = Math.Min(lane.Items.Count, MaxBatch);
                batch = [.. lane.Items.GetRange(0, count)];
                lane.Items.RemoveRange(0, count);
            }

            try
            {
                var results = await runBatch(key, Array.ConvertAll(batch, w => w.Item));
                if (results.Length != batch.Length)
                {
                    throw new InvalidOperationException($"A batch of {batch.Length} gave {results.Length} results.");
                }

                for (var i = 0; i < batch.Length; i++)
                {
                    batch[i].Result.TrySetResult(results[i]);
                }
            }
            catch (Exception ex)
            {
                foreach (var waiting in batch)
                {
                    waiting.Result.TrySetException(ex);
                }
            }
        }
    }

    private sealed class Lane
    {
        public List<Waiting> Items { get; } = [];

        public bool Running { get; set; }

        public bool Retired { get; set; }
    }

    private sealed class Waiting(TItem item)
    {
        public TItem Item { get; } = item;

        public TaskCompletionSource<TResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
