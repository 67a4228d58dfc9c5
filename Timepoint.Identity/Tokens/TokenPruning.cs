using System.ComponentModel.DataAnnotations;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using Timepoint.Identity.Data;

namespace Timepoint.Identity.Tokens;

/// <summary>Section <c>Identity:Pruning</c>: how often OpenIddict's tables and the retired signing keys are swept.</summary>
public sealed class PruningOptions
{
    public const string Section = "Identity:Pruning";

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "Identity:Pruning:Interval must be between 1 s and 1 day.")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Tokens and authorizations younger than this are kept whatever their state; by default the refresh-token lifetime, so a
    /// used refresh token is remembered (and its reuse revokes the family) for as long as it could have been valid.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00", ErrorMessage = "Identity:Pruning:MinimumAge must be between 0 and 10 years.")]
    public TimeSpan? MinimumAge { get; set; }
}

/// <summary>
/// Keeps identity's tables bounded by what is in force: OpenIddict's tokens that are expired, redeemed or revoked and its
/// authorizations that are revoked or left without tokens (older than <see cref="PruningOptions.MinimumAge"/>), and signing
/// keys retired more than a day ago. A valid session's tokens are never touched. Revoked sessions have their own sweeper.
/// </summary>
public sealed class TokenPruning(
    IOpenIddictTokenManager tokens,
    IOpenIddictAuthorizationManager authorizations,
    IdentityDbContext db,
    IOptions<PruningOptions> pruning,
    IOptions<TokenOptions> tokenOptions,
    TimeProvider clock)
{
    public static readonly TimeSpan RetiredKeyRetention = TimeSpan.FromDays(1);

    public async Task<PruneResult> PruneAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var threshold = now - (pruning.Value.MinimumAge ?? tokenOptions.Value.RefreshTokenLifetime);
        var prunedTokens = await tokens.PruneAsync(threshold, ct);
        var prunedAuthorizations = await authorizations.PruneAsync(threshold, ct);
        var retiredBefore = now - RetiredKeyRetention;
        var prunedKeys = await db.SigningKeys.Where(k => k.RetireAfter != null && k.RetireAfter < retiredBefore).ExecuteDeleteAsync(ct);
        return new PruneResult(prunedTokens, prunedAuthorizations, prunedKeys);
    }

    public sealed record PruneResult(long Tokens, long Authorizations, int SigningKeys);

    /// <summary>Runs <see cref="PruneAsync"/> every <see cref="PruningOptions.Interval"/> (OpenIddict.Quartz is not available here).</summary>
    public sealed class Schedule(IServiceScopeFactory scopes, IOptions<PruningOptions> options, ILogger<Schedule> logger) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            using var timer = new PeriodicTimer(options.Value.Interval);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var pruned = await scope.ServiceProvider.GetRequiredService<TokenPruning>().PruneAsync(stoppingToken);
                    if (pruned is not { Tokens: 0, Authorizations: 0, SigningKeys: 0 })
                    {
                        logger.LogInformation("Pruned {Tokens} tokens, {Authorizations} authorizations and {Keys} retired signing keys",
                            pruned.Tokens, pruned.Authorizations, pruned.SigningKeys);
                    }
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The database may be away; the next tick tries again (several replicas pruning at once is harmless).
                    logger.LogWarning(ex, "Pruning tokens failed; trying again in {Interval}", options.Value.Interval);
                }
            }
        }
    }
}
