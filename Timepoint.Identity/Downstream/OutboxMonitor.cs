using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Timepoint.Identity.Data;

namespace Timepoint.Identity.Downstream;

/// <summary>Section <c>Identity:Outbox</c>.</summary>
public sealed class OutboxOptions
{
    public const string Section = "Identity:Outbox";

    /// <summary>Deliveries tried before a message is a dead letter (with the delays below, about an hour and ten minutes).</summary>
    [Range(1, 1000, ErrorMessage = "Identity:Outbox:MaxAttempts must be between 1 and 1000.")]
    public int MaxAttempts { get; set; } = 20;

    /// <summary>The delay after the n-th failure is 2^n seconds, at most this.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00", ErrorMessage = "Identity:Outbox:MaxBackoff must be between 10 ms and 1 hour.")]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the delivery loop looks without being woken by a commit.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:05:00", ErrorMessage = "Identity:Outbox:PollInterval must be between 10 ms and 5 minutes.")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>/health is degraded while the oldest message waiting (a dead letter too) is older than this.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00", ErrorMessage = "Identity:Outbox:StaleAfter must be between 1 s and 7 days.")]
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>What is waiting in the outbox: messages still tried, dead letters, and when the oldest of all was written.</summary>
public sealed record OutboxBacklog(int Pending, int Dead, DateTimeOffset? OldestCreatedAt);

/// <summary>
/// The outbox's backlog as metrics (meter <c>Timepoint.Identity.Outbox</c>) and as a health check (degraded while its oldest
/// message is older than <see cref="OutboxOptions.StaleAfter"/>), and the operator's retry of dead letters.
/// </summary>
public sealed class OutboxMonitor : IHealthCheck
{
    public const string MeterName = "Timepoint.Identity.Outbox";

    private readonly IServiceScopeFactory scopes;
    private readonly IOptions<OutboxOptions> options;
    private readonly TimeProvider clock;
    private readonly Counter<long> deliveries;
    private volatile OutboxBacklog last = new(0, 0, null);

    public OutboxMonitor(IServiceScopeFactory scopes, IOptions<OutboxOptions> options, TimeProvider clock, IMeterFactory meters)
    {
        (this.scopes, this.options, this.clock) = (scopes, options, clock);
        var meter = meters.Create(MeterName);
        deliveries = meter.CreateCounter<long>("timepoint.identity.outbox.deliveries", "{attempt}",
            "Delivery attempts, per kind and result (delivered, failed, dead_lettered).");
        meter.CreateObservableGauge("timepoint.identity.outbox.backlog", () => new[]
        {
            new Measurement<int>(last.Pending, new KeyValuePair<string, object?>("state", "pending")),
            new Measurement<int>(last.Dead, new KeyValuePair<string, object?>("state", "dead")),
        }, "{message}", "Messages waiting in the outbox, per state (pending: still tried; dead: attempts ran out).");
        meter.CreateObservableGauge("timepoint.identity.outbox.oldest_age", () => Age(last, clock.GetUtcNow()).TotalSeconds, "s",
            "Age of the oldest message waiting in the outbox (0 when empty).");
    }

    public void Delivered(string kind, string result) =>
        deliveries.Add(1, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("result", result));

    /// <summary>Reads the backlog (one aggregate query) and keeps it for the gauges.</summary>
    public async Task<OutboxBacklog> ReadAsync(IdentityDbContext db, CancellationToken ct)
    {
        var counts = await db.Outbox.GroupBy(_ => 1).Select(g => new
        {
            Pending = g.Count(m => m.DeadAt == null),
            Dead = g.Count(m => m.DeadAt != null),
            Oldest = g.Min(m => (DateTimeOffset?)m.CreatedAt),
        }).FirstOrDefaultAsync(ct);
        return last = counts is null ? new OutboxBacklog(0, 0, null) : new OutboxBacklog(counts.Pending, counts.Dead, counts.Oldest);
    }

    /// <summary>Puts every dead letter back in line with a fresh set of attempts; returns how many.</summary>
    public async Task<int> RetryDeadLettersAsync(IdentityDbContext db, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var retried = await db.Outbox.Where(m => m.DeadAt != null)
            .ExecuteUpdateAsync(m => m.SetProperty(x => x.DeadAt, (DateTimeOffset?)null).SetProperty(x => x.Attempts, 0)
                .SetProperty(x => x.NextAttemptAt, now), ct);
        await ReadAsync(db, ct);
        return retried;
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await using var scope = scopes.CreateAsyncScope();
        var backlog = await ReadAsync(scope.ServiceProvider.GetRequiredService<IdentityDbContext>(), cancellationToken);
        var age = Age(backlog, clock.GetUtcNow());
        var data = new Dictionary<string, object> { ["pending"] = backlog.Pending, ["dead"] = backlog.Dead, ["oldest_age_seconds"] = (long)age.TotalSeconds };
        // Degraded, not unhealthy: sign-ins and everything else still work; a bonus or a deletion elsewhere is late.
        return age > options.Value.StaleAfter
            ? HealthCheckResult.Degraded(
                $"The outbox's oldest message is {age.TotalMinutes:F0} min old ({backlog.Pending} pending, {backlog.Dead} dead letters).", data: data)
            : HealthCheckResult.Healthy(data: data);
    }

    private static TimeSpan Age(OutboxBacklog backlog, DateTimeOffset now) =>
        backlog.OldestCreatedAt is { } oldest && now > oldest ? now - oldest : TimeSpan.Zero;
}
