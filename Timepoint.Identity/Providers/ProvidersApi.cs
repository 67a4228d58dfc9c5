using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Timepoint.Identity.Auth;
using Timepoint.Identity.Tokens;
using Timepoint.Identity.Users;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Timepoint.Identity.Providers;

/// <summary>
/// Sign in with Apple, Google and GitHub: native exchanges (<c>POST /api/v1/auth/{provider}</c>), the browser redirect
/// flow (<c>GET /api/v1/auth/{provider}/authorize</c> and its callback), and the interactive step of <c>/connect/authorize</c>.
/// </summary>
public static class ProvidersApi
{
    /// <summary>The short-lived cookie session /connect/authorize issues codes for; set only by a provider callback.</summary>
    public const string SessionScheme = "Timepoint.Session";

    public static WebApplicationBuilder AddProviders(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ProvidersOptions>().BindConfiguration(ProvidersOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // RemoveAllResilienceHandlers is marked experimental, but it is the documented way to opt one client out of the defaults.
#pragma warning disable EXTEXP0001
        builder.Services.AddHttpClient<ProviderHttp>(ProviderHttp.ClientName, (sp, http) =>
            {
                var settings = sp.GetRequiredService<IOptions<ProvidersOptions>>().Value;
                http.Timeout = settings.Timeout + TimeSpan.FromSeconds(1);
                http.MaxResponseContentBufferSize = settings.MaxResponseBytes;
            })
            // A code is single use: a retried exchange can only fail; ProviderHttp has its own timeout.
            .RemoveAllResilienceHandlers()
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(5) });
#pragma warning restore EXTEXP0001
        builder.Services.AddSingleton<ProviderKeys>();
        builder.Services.AddScoped<ProviderSignIn>();
        builder.Services.AddSingleton<BrowserSignIns>();

        builder.Services.AddAuthentication().AddCookie(SessionScheme, options =>
        {
            options.Cookie.Name = "tp_session";
            options.Cookie.Path = "/connect";
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Lax;
            options.SlidingExpiration = false;
        });
        // TLS ends at the edge, so the request here is always http: the edge's public scheme decides whether cookies are Secure.
        builder.Services.AddOptions<CookieAuthenticationOptions>(SessionScheme)
            .Configure<IOptions<ProvidersOptions>, IOptions<TokenOptions>>((cookie, providers, tokens) =>
            {
                cookie.ExpireTimeSpan = providers.Value.SessionLifetime;
                cookie.Cookie.SecurePolicy = tokens.Value.Issuer.Scheme == Uri.UriSchemeHttps
                    ? CookieSecurePolicy.Always
                    : CookieSecurePolicy.SameAsRequest;
            });
        return builder;
    }

    public static WebApplication MapProvidersApi(this WebApplication app)
    {
        // Token routes (see AuthRoutes): OpenIddict has validated the request before these run.
        app.MapPost("/api/v1/auth/apple", (HttpContext http, ProviderSignIn providers, UserAccounts users, CancellationToken ct) =>
            NativeAsync(http, ProviderNames.Apple, providers, users, ct)).WithName("AppleSignIn").WithSummary("Signs in with an Apple ID token.").AcceptsTokenRequest<AppleSignInBody>();
        app.MapPost("/api/v1/auth/google", (HttpContext http, ProviderSignIn providers, UserAccounts users, CancellationToken ct) =>
            NativeAsync(http, ProviderNames.Google, providers, users, ct)).WithName("GoogleSignIn").WithSummary("Signs in with a Google ID token.").AcceptsTokenRequest<GoogleSignInBody>();
        app.MapPost("/api/v1/auth/github", (HttpContext http, ProviderSignIn providers, UserAccounts users, CancellationToken ct) =>
            NativeAsync(http, ProviderNames.GitHub, providers, users, ct)).WithName("GitHubSignIn").WithSummary("Signs in with a GitHub authorization code.").AcceptsTokenRequest<GitHubSignInBody>();
        app.MapGet("/api/v1/auth/{provider}/callback", CallbackAsync).WithName("ProviderCallback").WithSummary("The provider's redirect back: hands the client its TokenPair (302).")
            .Produces(StatusCodes.Status302Found).ProducesProblems(400, 401, 403, 404);

        app.MapGet("/api/v1/auth/{provider}/authorize", AuthorizeAsync).WithName("ProviderAuthorize").WithSummary("Starts the browser sign-in with a provider (state and PKCE; 302 to the provider).")
            .Produces(StatusCodes.Status302Found).ProducesProblems(400, 404, 422);
        app.MapMethods("/connect/authorize", [HttpMethods.Get, HttpMethods.Post], ConnectAuthorizeAsync).WithName("ConnectAuthorize").WithSummary("OAuth 2.0 authorization endpoint (authorization code with PKCE S256).")
            .Produces(StatusCodes.Status302Found).Produces<OAuthError>(400);
        return app;
    }

    private static async Task<IResult> NativeAsync(HttpContext http, string provider, ProviderSignIn providers, UserAccounts users,
        CancellationToken ct)
    {
        var request = http.GetOpenIddictServerRequest()!;
        try
        {
            var identity = provider == ProviderNames.GitHub
                ? await providers.FromCodeAsync(provider, (string?)request["code"], (string?)request["redirect_uri"],
                    (string?)request["code_verifier"], nonce: null, ct)
                : await providers.FromIdTokenAsync(provider,
                    (string?)request[provider == ProviderNames.Apple ? "identity_token" : "id_token"], (string?)request["nonce"], ct);
            return await SignInAsync(identity, users, ct);
        }
        catch (ProviderFailure failure)
        {
            return failure.ToProblem(http);
        }
    }

    /// <summary>Starts the browser flow: a single-use state bound to this browser, PKCE toward the provider, then off to it.</summary>
    private static async Task<IResult> AuthorizeAsync(HttpContext http, string provider, ProviderSignIn providers, BrowserSignIns pending,
        IOptions<ClientRegistrations> clients, IOptions<TokenOptions> tokens, string? redirect_uri, string? return_to)
    {
        provider = provider.ToLowerInvariant();
        if (!ProviderNames.All.Contains(provider))
        {
            return Problems.NotFound($"Unknown provider '{provider}'.");
        }

        ProviderOptions settings;
        try
        {
            settings = providers.Configured(provider, needSecret: true);
        }
        catch (ProviderFailure failure)
        {
            return failure.ToProblem(http);
        }

        if (redirect_uri is null == return_to is null)
        {
            return Problems.Validation("Give either redirect_uri (a registered client redirect URI) or return_to.",
                status: StatusCodes.Status400BadRequest);
        }

        // Exact match against the registered clients' redirect URIs: no prefixes, no open redirects.
        if (redirect_uri is not null && !clients.Value.Clients.Any(c => c.RedirectUris.Contains(redirect_uri, StringComparer.Ordinal)))
        {
            return Problems.Validation("redirect_uri is not a registered redirect URI.", status: StatusCodes.Status400BadRequest);
        }

        if (return_to is not null && !IsLocalAuthorizeUrl(return_to))
        {
            return Problems.Validation("return_to must be a local /connect/authorize URL.", status: StatusCodes.Status400BadRequest);
        }

        var callback = settings.CallbackUri ?? new Uri(tokens.Value.Issuer, $"api/v1/auth/{provider}/callback");
        var (state, challenge, nonce) = await pending.StartAsync(http, provider, redirect_uri, return_to, callback,
            secureCookie: tokens.Value.Issuer.Scheme == Uri.UriSchemeHttps);
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Redirect(providers.AuthorizationUri(provider, settings, callback, state, nonce, challenge).AbsoluteUri);
    }

    /// <summary>The provider sent the browser back: check the state, redeem the code, then hand over a TokenPair or a session.</summary>
    private static async Task<IResult> CallbackAsync(HttpContext http, string provider, ProviderSignIn providers, BrowserSignIns pending,
        UserAccounts users, CancellationToken ct)
    {
        // Only the providers' callbacks are token requests (AuthRoutes.Callbacks); any other name is no route of ours.
        if (http.GetOpenIddictServerRequest() is not { } request)
        {
            return Problems.NotFound($"Unknown provider '{provider}'.");
        }

        var signIn = await pending.TakeAsync(http, request.State);
        if (signIn is null || !string.Equals(signIn.Provider, provider, StringComparison.OrdinalIgnoreCase))
        {
            return Problems.Validation("The sign-in state is unknown, expired, already used or from another browser; start again.",
                status: StatusCodes.Status400BadRequest);
        }

        if (!string.IsNullOrEmpty((string?)request["error"]))
        {
            return new ProviderFailure(ProviderFailureKind.Rejected, $"{signIn.Provider} did not sign the user in.").ToProblem(http);
        }

        try
        {
            var identity = await providers.FromCodeAsync(signIn.Provider, (string?)request["code"], signIn.Callback.AbsoluteUri,
                signIn.CodeVerifier, signIn.Nonce, ct);
            var (user, _) = await users.ResolveAsync(identity, ct);
            if (user.Disabled)
            {
                return AuthApi.Disabled();
            }

            if (signIn.ReturnTo is not null)
            {
                var session = new ClaimsIdentity(SessionScheme, Claims.Subject, null);
                session.AddClaim(new Claim(Claims.Subject, user.Id.ToString()));
                await http.SignInAsync(SessionScheme, new ClaimsPrincipal(session));
                return TypedResults.Redirect(signIn.ReturnTo);
            }

            AuthRoutes.HandOffTo(http, signIn.RedirectUri!);
            return AuthApi.SignIn(TokenPrincipal.For(user));
        }
        catch (ProviderFailure failure)
        {
            return failure.ToProblem(http);
        }
    }

    /// <summary>
    /// OpenIddict has validated the client, redirect URI and PKCE S256 challenge. A browser with a session gets its code;
    /// one without is sent to sign in with a provider first and comes back here.
    /// </summary>
    private static async Task<IResult> ConnectAuthorizeAsync(HttpContext http, UserAccounts users, IOptions<ProvidersOptions> options,
        CancellationToken ct)
    {
        var request = http.GetOpenIddictServerRequest()!;
        var session = await http.AuthenticateAsync(SessionScheme);
        var user = session.Succeeded && Guid.TryParse(session.Principal.FindFirstValue(Claims.Subject), out var id)
            ? await users.FindAsync(id, ct)
            : null;
        if (user is { Disabled: false } && !request.HasPromptValue(PromptValues.Login))
        {
            return AuthApi.SignIn(TokenPrincipal.For(user));
        }

        if (request.HasPromptValue(PromptValues.None))
        {
            return TypedResults.Forbid(new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.LoginRequired,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = "The user is not signed in.",
            }), [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }

        var available = ProviderNames.All.Where(p => options.Value.For(p) is { } s && s.ClientIds.Length > 0 && s.HasSecret).ToList();
        if (available.Count == 0)
        {
            return ProviderFailure.NotConfigured("any provider").ToProblem(http);
        }

        // Come back to this same authorization request (minus prompt=login, now satisfied) once signed in.
        var query = new QueryBuilder();
        foreach (var (name, value) in request.GetParameters())
        {
            if (name != Parameters.Prompt && (string?)value is { } text)
            {
                query.Add(name, text);
            }
        }

        var returnTo = "/connect/authorize" + query.ToQueryString().Value;
        var hint = ((string?)request["identity_provider"])?.ToLowerInvariant();
        var choice = hint is not null && available.Contains(hint) ? hint : available.Count == 1 ? available[0] : null;
        if (choice is not null)
        {
            return TypedResults.Redirect(StartUrl(choice, returnTo));
        }

        var links = string.Concat(available.Select(p =>
            $"<li><a href=\"{WebUtility.HtmlEncode(StartUrl(p, returnTo))}\">Sign in with {WebUtility.HtmlEncode(Display(p))}</a></li>"));
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Content($"<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in to Timepoint</title></head>" +
            $"<body><h1>Sign in to Timepoint</h1><ul>{links}</ul></body></html>", "text/html; charset=utf-8");
    }

    private static async Task<IResult> SignInAsync(ExternalIdentity identity, UserAccounts users, CancellationToken ct)
    {
        var (user, _) = await users.ResolveAsync(identity, ct);
        return user.Disabled ? AuthApi.Disabled() : AuthApi.SignIn(TokenPrincipal.For(user));
    }

    private static string StartUrl(string provider, string returnTo) =>
        $"/api/v1/auth/{provider}/authorize{QueryString.Create("return_to", returnTo)}";

    private static bool IsLocalAuthorizeUrl(string url) =>
        url.StartsWith("/connect/authorize?", StringComparison.Ordinal) && url.Length <= 4096 &&
        !url.Contains('\\') && !url.Contains("//", StringComparison.Ordinal) && !url.Any(char.IsControl);

    private static string Display(string provider) => provider switch
    {
        ProviderNames.GitHub => "GitHub",
        _ => char.ToUpperInvariant(provider[0]) + provider[1..],
    };
}
