using System.Collections.Concurrent;

namespace Timepoint.Pro.Stub.Simulations;

/// <summary>
/// Recent jobs in memory, for their owners to read back. A stub's convenience: bounded, per replica, gone on restart.
/// </summary>
public sealed class SimulationStore
{
    private const int Capacity = 10_000;
    private readonly ConcurrentDictionary<Guid, (Guid OwnerId, Simulation Simulation)> jobs = new();
    private readonly ConcurrentQueue<Guid> order = new();

    public void Add(Guid ownerId, Simulation simulation)
    {
        jobs[simulation.JobId] = (ownerId, simulation);
        order.Enqueue(simulation.JobId);
        while (order.Count > Capacity && order.TryDequeue(out var oldest))
        {
            jobs.TryRemove(oldest, out _);
        }
    }

    public Simulation? Find(Guid jobId, Guid ownerId) =>
        jobs.TryGetValue(jobId, out var job) && job.OwnerId == ownerId ? job.Simulation : null;

    /// <summary>The owner's jobs held here, newest first.</summary>
    public IReadOnlyList<Simulation> AllOf(Guid ownerId) =>
        [.. jobs.Values.Where(j => j.OwnerId == ownerId).Select(j => j.Simulation).OrderByDescending(s => s.CreatedAt)];

    /// <summary>Forgets every job of the owner (account deletion).</summary>
    public void DeleteAllOf(Guid ownerId)
    {
        foreach (var (jobId, job) in jobs)
        {
            if (job.OwnerId == ownerId)
            {
                jobs.TryRemove(jobId, out _);
            }
        }
    }
}
