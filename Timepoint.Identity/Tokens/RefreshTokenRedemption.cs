using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore.Models;
using OpenIddict.Server;
using Timepoint.Identity.Data;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Timepoint.Identity.Tokens;

/// <summary>
/// A refresh token is redeemed once, also under concurrency. OpenIddict marks a refresh token redeemed after it has
/// validated it, and on the refresh grant it deliberately ignores a failed mark (its concurrency token said another
/// request got there first), so two requests presenting the same token at the same moment both got new tokens. Here
/// the mark is one conditional UPDATE (<c>WHERE Status = 'valid'</c>, serialised by PostgreSQL's row lock) before any
/// token is minted: exactly one request wins it; every other is reuse, refused, and the family is revoked: its tokens,
/// and its authorization, so the tokens the winner is minting at the same moment stop working at their first use too.
/// </summary>
public sealed class RefreshTokenRedemption(IdentityDbContext db, TimeProvider clock) : IOpenIddictServerHandler<OpenIddictServerEvents.ProcessSignInContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<OpenIddictServerEvents.ProcessSignInContext>()
            .UseScopedHandler<RefreshTokenRedemption>()
            .SetOrder(OpenIddictServerHandlers.RedeemTokenEntry.Descriptor.Order - 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(OpenIddictServerEvents.ProcessSignInContext context)
    {
        // A reuse leeway means a used token may be presented again for a while: OpenIddict's own handling then applies.
        if (context.EndpointType != OpenIddictServerEndpointType.Token || !context.Request.IsRefreshTokenGrantType()
            || context.Options.RefreshTokenReuseLeeway is { } leeway && leeway > TimeSpan.Zero)
        {
            return;
        }

        var authentication = context.Transaction.GetProperty<OpenIddictServerEvents.ProcessAuthenticationContext>(
            typeof(OpenIddictServerEvents.ProcessAuthenticationContext).FullName!);
        var principal = authentication?.RefreshTokenPrincipal;
        var tokenId = principal?.GetTokenId();
        if (string.IsNullOrEmpty(tokenId))
        {
            // Every refresh token here is a reference token with a database entry; one without cannot be redeemed once.
            context.Reject(Errors.InvalidGrant, "The refresh token is invalid.");
            return;
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var won = await db.Set<OpenIddictEntityFrameworkCoreToken>()
            .Where(t => t.Id == tokenId && t.Status == Statuses.Valid)
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.Status, Statuses.Redeemed).SetProperty(t => t.RedemptionDate, now));
        if (won == 1)
        {
            return;
        }

        // Refused whatever happens next (fail closed); the family is revoked by this loser or by another one.
        context.Reject(Errors.InvalidGrant, "The refresh token has already been used.");
        if (principal!.GetAuthorizationId() is { Length: > 0 } authorizationId)
        {
            try
            {
                await RevokeFamilyAsync(authorizationId);
                context.Logger.LogWarning("Refresh token {TokenId} was presented again while it was being redeemed: its family is revoked", tokenId);
            }
            catch (Exception ex) when (ex is DbUpdateException or InvalidOperationException or Npgsql.NpgsqlException)
            {
                context.Logger.LogError("Refresh token {TokenId} was reused; its family could not be revoked: {Error}", tokenId, ex.Message);
            }
        }
    }

    private async Task RevokeFamilyAsync(string authorizationId)
    {
        // The authorization's row first, locked until the commit: concurrent losers queue on it instead of locking the
        // family's token rows in different orders (a deadlock).
        await using var transaction = await db.Database.BeginTransactionAsync();
        await db.Set<OpenIddictEntityFrameworkCoreAuthorization>()
            .Where(a => a.Id == authorizationId)
            .ExecuteUpdateAsync(set => set.SetProperty(a => a.Status, Statuses.Revoked));
        await db.Set<OpenIddictEntityFrameworkCoreToken>()
            .Where(t => t.Authorization!.Id == authorizationId && t.Status != Statuses.Revoked)
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.Status, Statuses.Revoked));
        await transaction.CommitAsync();
    }
}
