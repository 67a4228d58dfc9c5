using Microsoft.AspNetCore;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Timepoint.Identity.Sessions;
using Timepoint.Identity.Tokens;
using Timepoint.Identity.Users;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Timepoint.Identity.Auth;

/// <summary>Sign-in, refresh, logout and the caller's own account: <c>/api/v1/auth/*</c> and OpenIddict's <c>/connect/token</c>.</summary>
public static class AuthApi
{

    public static WebApplication MapAuthApi(this WebApplication app)
    {
        // Token routes: OpenIddict has validated the request before any of these runs.
        app.MapPost("/connect/token", Exchange).WithName("ConnectToken").WithSummary("OAuth 2.0 token endpoint: authorization_code (PKCE S256), refresh_token, client_credentials.")
            .Accepts<OAuthTokenForm>("application/x-www-form-urlencoded").Produces<OAuthTokenResponse>().Produces<OAuthError>(400);
        app.MapPost("/api/v1/auth/refresh", Exchange).WithName("Refresh").WithSummary("A new TokenPair for a refresh token (single use; a reused one ends its whole session).").AcceptsTokenRequest<RefreshBody>();
        app.MapPost("/api/v1/auth/demo", Demo).AddEndpointFilter<DemoRateLimit>().WithName("DemoSignIn").WithSummary("Signs in as a new demo user of the caller's own (short-lived; 10 a minute per address).")
            .Produces<TokenPair>().ProducesProblems(403, 429, 503);
        app.MapPost("/api/v1/auth/dev/token", DevToken).RequireAdminKey().WithName("DevToken").WithSummary("Admin: a TokenPair for the user with this email, created on first use.").AcceptsTokenRequest<DevTokenBody>();
        app.MapPost("/api/v1/auth/service-token", ServiceToken).RequireAdminKey().WithName("ServiceToken").WithSummary("Admin: a TokenPair acting as an existing user.")
            .AcceptsTokenRequest<ServiceTokenBody>().ProducesProblems(404);

        app.MapPost("/api/v1/auth/logout", Logout).RequireJwtUser().WithName("Logout").WithSummary("Ends the caller's session: its refresh tokens now, its access tokens at the edge within seconds.");
        app.MapGet("/api/v1/auth/me", Me).RequireGatewayUser().WithName("GetMe").WithSummary("The caller's profile.").ProducesProblems(404);
        app.MapDelete("/api/v1/auth/me", DeleteMe).RequireJwtUser().WithName("DeleteMe").WithSummary("Deletes the caller's account and its data in every service.").ProducesProblems(404);
        return app;
    }

    /// <summary>The standard grants: refresh_token (rotated on every use), authorization_code (PKCE), client_credentials.</summary>
    private static async Task<IResult> Exchange(HttpContext http, UserAccounts users, CancellationToken ct)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenIddict request.");
        if (request.IsRefreshTokenGrantType() || request.IsAuthorizationCodeGrantType())
        {
            var result = await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
            var user = Guid.TryParse(result.Principal?.GetClaim(Claims.Subject), out var id) ? await users.FindAsync(id, ct) : null;
            if (user is null || user.Disabled)
            {
                return AuthRoutes.IsJsonRoute(http) ? Disabled("The account no longer exists or is disabled.")
                    : Refuse(http, "The account no longer exists or is disabled.");
            }

            return SignIn(TokenPrincipal.For(user));
        }

        if (request.IsClientCredentialsGrantType())
        {
            // A registered service client acting as itself; OpenIddict has authenticated it and checked its scopes.
            var identity = new ClaimsIdentity(Microsoft.IdentityModel.Tokens.TokenValidationParameters.DefaultAuthenticationType);
            identity.SetClaim(Claims.Subject, request.ClientId).SetClaim(Claims.ClientId, request.ClientId);
            identity.SetScopes(request.GetScopes());
            identity.SetAudiences(TokenOptions.Audience);
            identity.SetDestinations(static _ => [Destinations.AccessToken]);
            return SignIn(new ClaimsPrincipal(identity));
        }

        return Refuse(http, "This grant type is not accepted here.", Errors.UnsupportedGrantType);
    }

    /// <summary>A demo user of the caller's own, short-lived (see <see cref="DemoUsers"/>).</summary>
    private static async Task<IResult> Demo(HttpContext http, DemoUsers demoUsers, IOptions<DemoOptions> demo, IHostEnvironment environment,
        CancellationToken ct)
    {
        if (environment.IsProduction() && !demo.Value.Enabled)
        {
            return Problems.Forbidden("Demo sign-in is disabled here.");
        }

        if (await demoUsers.CreateAsync(ct) is not { } user)
        {
            demoUsers.LogCapReached();
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.UpstreamUnavailable, "Service unavailable",
                "Every demo place is taken; try again later.");
        }

        return SignIn(TokenPrincipal.For(user));
    }

    /// <summary>Admin: a TokenPair for the user with this email, created on first use.</summary>
    private static async Task<IResult> DevToken(HttpContext http, UserAccounts users, CancellationToken ct)
    {
        var request = http.GetOpenIddictServerRequest()!;
        var email = UserAccounts.NormalizeEmail((string?)request["email"]);
        var name = (string?)request["display_name"];
        if (email is null || !System.Net.Mail.MailAddress.TryCreate(email, out _) || email.Length > 320)
        {
            return Problems.Validation("email", "A valid email is required.");
        }

        if (name is { Length: > 100 })
        {
            return Problems.Validation("display_name", "display_name may be at most 100 characters.");
        }

        var (user, _) = await users.ResolveAsync(new ExternalIdentity("dev", email, email, true, name), ct);
        return user.Disabled ? Disabled() : SignIn(TokenPrincipal.For(user));
    }

    /// <summary>Admin: a TokenPair acting as an existing user.</summary>
    private static async Task<IResult> ServiceToken(HttpContext http, UserAccounts users, CancellationToken ct)
    {
        var request = http.GetOpenIddictServerRequest()!;
        if (!Guid.TryParse((string?)request["user_id"], out var id))
        {
            return Problems.Validation("user_id", "user_id must be a UUID.");
        }

        var user = await users.FindAsync(id, ct);
        if (user is null)
        {
            return Problems.NotFound("No such user.");
        }

        return user.Disabled ? Disabled() : SignIn(TokenPrincipal.For(user));
    }

    /// <summary>
    /// Ends the caller's session: its refresh tokens, and at the edge its access tokens within seconds. The user's other
    /// sessions (another device) keep working. A caller whose session the edge did not name loses every session.
    /// </summary>
    private static async Task<Ok<LogoutResponse>> Logout(ClaimsPrincipal caller, SessionRevocations sessions, CancellationToken ct)
    {
        var userId = caller.GetUserId()!.Value;
        if (caller.FindFirstValue(GatewayClaims.SessionId) is not { } session
            || !await sessions.RevokeSessionAsync(userId, session, RevocationReasons.Logout, ct))
        {
            await sessions.RevokeUserAsync(userId, RevocationReasons.Logout, ct);
        }

        return TypedResults.Ok(new LogoutResponse("Logged out"));
    }

    private static async Task<Results<Ok<UserProfile>, ProblemHttpResult>> Me(ClaimsPrincipal caller, UserAccounts users, CancellationToken ct)
    {
        var user = await users.FindAsync(caller.GetUserId()!.Value, ct);
        return user is null ? Problems.NotFound("The account no longer exists.") : TypedResults.Ok(UserProfile.From(user));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteMe(ClaimsPrincipal caller, UserAccounts users, CancellationToken ct)
    {
        var user = await users.FindAsync(caller.GetUserId()!.Value, ct);
        if (user is null)
        {
            return Problems.NotFound("The account no longer exists.");
        }

        await users.DeleteAsync(user, ct);
        return TypedResults.NoContent();
    }

    /// <summary>A disabled (or vanished) account gets no token: 401 auth.token_revoked.</summary>
    internal static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Disabled(string detail = "The account is disabled.") =>
        Problems.Unauthorized(ErrorCodes.TokenRevoked, detail);

    internal static SignInHttpResult SignIn(ClaimsPrincipal principal) =>
        TypedResults.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);

    /// <summary>A refusal in the caller's language: problem+json on the JSON routes, an OAuth error on /connect/token.</summary>
    private static IResult Refuse(HttpContext http, string description, string error = Errors.InvalidGrant) =>
        AuthRoutes.IsJsonRoute(http)
            ? Problems.Forbidden(description)
            : TypedResults.Forbid(new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
            }), [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);

    public sealed record LogoutResponse(string Detail);

    /// <summary>A JSON sign-in route (see <see cref="AuthRoutes"/>): this body in, a TokenPair or a problem out.</summary>
    internal static RouteHandlerBuilder AcceptsTokenRequest<TBody>(this RouteHandlerBuilder endpoint) where TBody : notnull =>
        endpoint.Accepts<TBody>("application/json").Produces<TokenPair>().ProducesProblems(400, 401, 403, 413, 415, 422);
}

/// <summary>Section <c>Identity:Demo</c>.</summary>
public sealed class DemoOptions
{
    public const string Section = "Identity:Demo";

    /// <summary>Demo sign-in in Production only when this is true; always on elsewhere.</summary>
    public bool Enabled { get; set; }

    [System.ComponentModel.DataAnnotations.Range(1, 10_000)]
    public int PermitsPerMinute { get; set; } = 10;

    /// <summary>How long a demo user lives before it is deleted with its data (every sign-in makes a new one).</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:01:00", "7.00:00:00")]
    public TimeSpan UserLifetime { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Demo users alive at once; sign-ins beyond are 503 until the oldest expire.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 100_000)]
    public int MaxUsers { get; set; } = 1000;

    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
}
