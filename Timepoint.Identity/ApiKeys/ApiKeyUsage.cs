using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Timepoint.Identity.Data;

namespace Timepoint.Identity.ApiKeys;

/// <summary>
/// last_used_at off the request path: a verification only queues the key id, and only when the stored value is older
/// than the resolution (a minute), so a busy key costs one UPDATE a minute, not one per request.
/// </summary>
public sealed class ApiKeyUsage(IOptions<ApiKeyOptions> options)
{
    // Bounded: if the writer falls behind, last_used_at is late, never a memory problem.
    private readonly Channel<Guid> queue = Channel.CreateBounded<Guid>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public TimeSpan Resolution => options.Value.LastUsedResolution;

    public void Record(Guid keyId, DateTimeOffset? lastUsedAt, DateTimeOffset now)
    {
        if (lastUsedAt is null || now - lastUsedAt >= Resolution)
        {
            queue.Writer.TryWrite(keyId);
        }
    }

    internal ChannelReader<Guid> Reader => queue.Reader;
}

public sealed class ApiKeyUsageWriter(ApiKeyUsage usage, IServiceScopeFactory scopes, TimeProvider clock, ILogger<ApiKeyUsageWriter> logger)
    : BackgroundService
{
    private const int BatchSize = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new HashSet<Guid>();
        while (await usage.Reader.WaitToReadAsync(stoppingToken))
        {
            while (batch.Count < BatchSize && usage.Reader.TryRead(out var id))
            {
                batch.Add(id);
            }

            try
            {
                await WriteAsync([.. batch], stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Could not record the last use of {Count} API keys", batch.Count);
            }

            batch.Clear();
        }
    }

    private async Task WriteAsync(Guid[] ids, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        var now = ApiKeyStore.AtMicroseconds(clock.GetUtcNow());
        var before = now - usage.Resolution;

        // Conditional, so replicas (and requests queued twice) write a key at most once per resolution.
        await db.ApiKeys.Where(k => ids.Contains(k.Id) && (k.LastUsedAt == null || k.LastUsedAt < before))
            .ExecuteUpdateAsync(set => set.SetProperty(k => k.LastUsedAt, now), ct);
    }
}
