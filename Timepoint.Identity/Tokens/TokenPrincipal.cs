using System.Security.Claims;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using Timepoint.Identity.Data;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Timepoint.Identity.Tokens;

public static class TokenPrincipal
{
    public const string ApiScope = "api";
    public const string TierClaim = "tier";

    /// <summary>The identity OpenIddict turns into the access token (claims of docs/contract.md#2-edge-routes) and a refresh token.</summary>
    public static ClaimsPrincipal For(User user)
    {
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, user.Id.ToString())
            .SetClaim(Claims.Name, user.DisplayName)
            .SetClaim(TierClaim, user.Tier);
        if (user.Email is not null)
        {
            identity.SetClaim(Claims.Email, user.Email);
        }

        identity.SetScopes(ApiScope, Scopes.OfflineAccess);
        identity.SetAudiences(TokenOptions.Audience);
        identity.SetDestinations(static _ => [Destinations.AccessToken]);
        return new ClaimsPrincipal(identity);
    }
}
