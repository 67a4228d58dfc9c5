using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Timepoint.Flash.Stub.Storage;

namespace Timepoint.Flash.Stub.Timepoints;

/// <summary>
/// Completes async generations in the background: processing -> completed. At start it also picks up timepoints
/// left processing by a replica that stopped (completing is idempotent, so replicas may race harmlessly).
/// </summary>
public sealed class AsyncGenerationQueue(
    TimepointStore store,
    TimepointGenerator generator,
    IOptions<GenerationOptions> options,
    TimeProvider clock,
    ILogger<AsyncGenerationQueue> logger) : BackgroundService
{
    private readonly Channel<Job> jobs = Channel.CreateUnbounded<Job>();

    public void Enqueue(TimepointDocument pending) => jobs.Writer.TryWrite(JobFor(pending));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await RecoverAsync(stoppingToken);
        await foreach (var (id, input, createdAt, due) in jobs.Reader.ReadAllAsync(stoppingToken))
        {
            try
            {
                // Jobs are due in the order they came, so waiting for each in turn never delays the next one further.
                var wait = due - clock.GetUtcNow();
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, clock, stoppingToken);
                }

                await store.CompleteAsync(generator.Complete(id, input, createdAt), stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Async generation of timepoint {Id} failed.", id);
            }
        }
    }

    private async Task RecoverAsync(CancellationToken stoppingToken)
    {
        try
        {
            foreach (var timepoint in await store.ProcessingAsync(stoppingToken))
            {
                jobs.Writer.TryWrite(JobFor(timepoint));
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Could not look for unfinished async generations.");
        }
    }

    private Job JobFor(TimepointDocument pending) => new(pending.Id, pending.InputOf(), pending.CreatedAt,
        clock.GetUtcNow().AddMilliseconds(options.Value.AsyncDelayMilliseconds));

    private readonly record struct Job(Guid Id, GenerationInput Input, DateTimeOffset CreatedAt, DateTimeOffset DueAt);
}
