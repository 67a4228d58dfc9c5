namespace Timepoint.Gateway.Limits;

/// <summary>
/// Gives idle rate-limit leases back to Redis every <see cref="EdgeRateLimiter.IdleLease"/>, and all of them when the
/// replica stops, so the units this replica holds and does not use go back to the others.
/// </summary>
public sealed class RateLimitLeases(EdgeRateLimiter limiter, ILogger<RateLimitLeases> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(EdgeRateLimiter.IdleLease);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await limiter.ReturnIdleLeasesAsync(EdgeRateLimiter.IdleLease);
                }
                catch (Exception ex)
                {
                    logger.LogError(ex, "Giving idle rate-limit leases back failed; trying again in {Period}", EdgeRateLimiter.IdleLease);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await limiter.ReturnIdleLeasesAsync(TimeSpan.Zero).WaitAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            // Best effort: what was not given back counts as spent until its window ends. Stopping must not fail.
            logger.LogDebug(ex, "Rate-limit leases not given back while stopping");
        }
    }
}
