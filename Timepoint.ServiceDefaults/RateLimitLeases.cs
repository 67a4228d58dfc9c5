using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Gives idle rate-limit leases back to Redis every <see cref="SharedRateLimiter.IdleLease"/>, and all of them when the
/// replica stops, so the units this replica holds and does not use go back to the others.
/// </summary>
public sealed class RateLimitLeases(SharedRateLimiter limiter, ILogger<RateLimitLeases> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SharedRateLimiter.IdleLease);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await limiter.ReturnIdleLeasesAsync(SharedRateLimiter.IdleLease);
                }
                catch (Exception ex)
                {
                    logger.LogError(ex, "Giving idle rate-limit leases back failed; trying again in {Period}", SharedRateLimiter.IdleLease);
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

public static class SharedRateLimiterExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TLimiter"/> (a service's <see cref="SharedRateLimiter"/>, with its own fallback metric)
    /// as itself and as <see cref="SharedRateLimiter"/>, and gives its idle leases back with <see cref="RateLimitLeases"/>.
    /// </summary>
    public static IServiceCollection AddSharedRateLimiter<TLimiter>(this IServiceCollection services) where TLimiter : SharedRateLimiter
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<TLimiter>();
        services.AddSingleton<SharedRateLimiter>(sp => sp.GetRequiredService<TLimiter>());
        services.AddHostedService<RateLimitLeases>();
        return services;
    }
}
