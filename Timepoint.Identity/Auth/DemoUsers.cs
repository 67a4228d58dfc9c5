using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Timepoint.Identity.Data;
using Timepoint.Identity.Users;

namespace Timepoint.Identity.Auth;

/// <summary>
/// Demo sign-in gives every visitor a user of their own (login provider <c>demo</c>, a random subject): nobody sees,
/// logs out or deletes another visitor's data. Each demo user gets the ordinary signup bonus once and is deleted, like an
/// account deletion, <see cref="DemoOptions.UserLifetime"/> after it was created; at most <see cref="DemoOptions.MaxUsers"/>
/// live at once, so the credits demo users hold are bounded by that times the bonus.
/// </summary>
public sealed class DemoUsers(IdentityDbContext db, UserAccounts users, IOptions<DemoOptions> options, TimeProvider clock,
    ILogger<DemoUsers> logger)
{
    public const string Provider = "demo";

    /// <summary>A new demo user, or null when <see cref="DemoOptions.MaxUsers"/> are alive.</summary>
    public async Task<User?> CreateAsync(CancellationToken ct)
    {
        // Counted before creating: concurrent sign-ins may pass the cap by their number, never by more (and the demo
        // route's rate limit bounds that).
        if (await db.ExternalLogins.CountAsync(l => l.Provider == Provider, ct) >= options.Value.MaxUsers)
        {
            return null;
        }

        var (user, _) = await users.ResolveAsync(new ExternalIdentity(Provider, Guid.NewGuid().ToString("N"), null, false, "Demo User"), ct);
        return user;
    }

    /// <summary>Deletes the demo users created before <paramref name="createdBefore"/> (every one when null); returns their ids.</summary>
    public async Task<List<Guid>> DeleteAsync(DateTimeOffset? createdBefore, int limit, CancellationToken ct)
    {
        var ids = await db.ExternalLogins
            .Where(l => l.Provider == Provider && (createdBefore == null || l.LinkedAt < createdBefore))
            .OrderBy(l => l.LinkedAt)
            .Select(l => l.UserId)
            .Take(limit)
            .ToListAsync(ct);
        foreach (var id in ids)
        {
            if (await users.FindAsync(id, ct) is { } user)
            {
                await users.DeleteAsync(user, ct);
            }
        }

        return ids;
    }

    public Task<List<Guid>> DeleteExpiredAsync(CancellationToken ct) =>
        DeleteAsync(clock.GetUtcNow() - options.Value.UserLifetime, 100, ct);

    /// <summary>Deletes expired demo users every <see cref="DemoOptions.SweepInterval"/>.</summary>
    public sealed class Sweeper(IServiceScopeFactory scopes, IOptions<DemoOptions> options, ILogger<Sweeper> logger) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            using var timer = new PeriodicTimer(options.Value.SweepInterval);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var deleted = await scope.ServiceProvider.GetRequiredService<DemoUsers>().DeleteExpiredAsync(stoppingToken);
                    if (deleted.Count > 0)
                    {
                        logger.LogInformation("Deleted {Count} expired demo users", deleted.Count);
                    }
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The database may be away; the next tick tries again.
                    logger.LogWarning(ex, "Deleting expired demo users failed");
                }
            }
        }
    }

    internal void LogCapReached() => logger.LogWarning("Demo sign-in refused: {Max} demo users are alive", options.Value.MaxUsers);
}
