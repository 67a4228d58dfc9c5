using Microsoft.AspNetCore.Http.HttpResults;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Timepoint.Identity.Sessions;

/// <summary>The revoked-session list the gateway replicas read (identity's X-Service-Key); never routed from outside.</summary>
public static class SessionsApi
{
    public static WebApplication MapSessionsApi(this WebApplication app)
    {
        app.MapGet("/internal/identity/sessions/revoked", List).RequireServiceKey();
        return app;
    }

    /// <summary><c>?since=</c> the cursor of the previous answer (ISO 8601), or nothing for every session still listed.</summary>
    private static async Task<Results<Ok<RevokedSessions>, ProblemHttpResult>> List(string? since, SessionRevocations revocations,
        CancellationToken ct)
    {
        DateTimeOffset? from = null;
        if (since is not null)
        {
            if (!DateTimeOffset.TryParse(since, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed))
            {
                return Problems.Validation("since", "since must be an ISO 8601 time (the cursor of the previous answer).");
            }

            from = parsed;
        }

        return TypedResults.Ok(await revocations.ListAsync(from, ct));
    }
}

/// <summary>Deletes listed sessions once their access tokens have expired, so the list holds only what is still in force.</summary>
public sealed class SessionRevocationSweeper(IServiceScopeFactory scopes, TimeProvider clock, ILogger<SessionRevocationSweeper> logger)
    : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(Interval, clock, stoppingToken);
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var pruned = await scope.ServiceProvider.GetRequiredService<SessionRevocations>().PruneAsync(stoppingToken);
                if (pruned > 0)
                {
                    logger.LogInformation("Pruned {Count} revoked sessions whose access tokens have expired", pruned);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Could not prune revoked sessions; trying again in {Interval}", Interval);
            }
        }
    }
}

/// <summary>
/// A refresh token presented again after it was used (or after its session ended): OpenIddict refuses it; this ends its
/// whole family (the authorization and every token of it) and lists the session, so the access tokens the family already
/// issued stop at the edge as well. A thief and the rightful owner both have to sign in again.
/// </summary>
public sealed class ListReusedRefreshTokenFamily(IOpenIddictTokenManager tokens, SessionRevocations revocations) : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyTokenResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<OpenIddictServerEvents.ApplyTokenResponseContext>()
            .UseScopedHandler<ListReusedRefreshTokenFamily>()
            .SetOrder(int.MinValue + 100_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(OpenIddictServerEvents.ApplyTokenResponseContext context)
    {
        if (context.Response.Error != Errors.InvalidGrant || context.Request?.IsRefreshTokenGrantType() != true
            || string.IsNullOrEmpty(context.Request.RefreshToken) || context.Request.RefreshToken.Length > 200)
        {
            return;
        }

        var ct = context.CancellationToken;
        if (await tokens.FindByReferenceIdAsync(context.Request.RefreshToken, ct) is not { } token
            || await tokens.GetAuthorizationIdAsync(token, ct) is not { } session
            || !Guid.TryParse(await tokens.GetSubjectAsync(token, ct), out var userId)
            || !(await tokens.HasStatusAsync(token, Statuses.Redeemed, ct) || await tokens.HasStatusAsync(token, Statuses.Revoked, ct)))
        {
            return;
        }

        await revocations.RevokeSessionAsync(userId, session, RevocationReasons.RefreshReuse, ct);
    }
}
