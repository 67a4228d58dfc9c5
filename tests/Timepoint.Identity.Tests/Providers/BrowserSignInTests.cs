using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Identity.Tests.Providers;

/// <summary>
/// The browser redirect flow (GET /api/v1/auth/{provider}/authorize -> provider -> callback -> TokenPair at the client's
/// registered redirect URI) and /connect/authorize's authorization code with PKCE, against local stand-in providers; on one
/// Redis server and on a Redis Cluster (the pending sign-ins and the data-protection keys live in Redis).
/// </summary>
public abstract class BrowserSignInTests(ProvidersFixture fixture)
{
    [Theory]
    [InlineData("google")]
    [InlineData("apple")]
    [InlineData("github")]
    public async Task The_browser_flow_hands_the_registered_redirect_uri_a_token_pair(string provider)
    {
        using var browser = fixture.Browser();
        var user = StandInUser.New();
        StandIn(provider).NextUser = user;

        var callback = await LeaveForProviderAsync(browser, provider,
            $"/api/v1/auth/{provider}/authorize?redirect_uri={Uri.EscapeDataString(IdentityFactory.WebRedirectUri)}");
        using var response = await browser.GetAsync(callback);

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var location = response.Headers.Location!.OriginalString;
        Assert.StartsWith(IdentityFactory.WebRedirectUri + "#", location, StringComparison.Ordinal);
        var pair = QueryHelpers.ParseQuery(location[(location.IndexOf('#') + 1)..]);
        Assert.Equal("bearer", pair["token_type"]);
        Assert.False(string.IsNullOrEmpty(pair["refresh_token"]));
        var id = ProvidersFixture.UserIdOf(pair["access_token"]!);
        Assert.True(await fixture.LoginExistsAsync(provider, user.Subject));
        Assert.Equal(1, await fixture.SignupBonusesAsync(id));

        // Signing in again through the browser is the same user.
        callback = await LeaveForProviderAsync(browser, provider,
            $"/api/v1/auth/{provider}/authorize?redirect_uri={Uri.EscapeDataString(IdentityFactory.WebRedirectUri)}");
        using var again = await browser.GetAsync(callback);
        var second = QueryHelpers.ParseQuery(again.Headers.Location!.OriginalString.Split('#')[1]);
        Assert.Equal(id, ProvidersFixture.UserIdOf(second["access_token"]!));
    }

    [Fact]
    public async Task The_provider_sees_a_pkce_s256_challenge_a_state_and_a_nonce()
    {
        using var browser = fixture.Browser();

        using var response = await browser.GetAsync(
            $"/api/v1/auth/google/authorize?redirect_uri={Uri.EscapeDataString(IdentityFactory.WebRedirectUri)}");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var query = QueryHelpers.ParseQuery(response.Headers.Location!.Query);
        Assert.Equal("S256", query["code_challenge_method"]);
        Assert.Equal(43, query["code_challenge"].ToString().Length);
        Assert.True(query["state"].ToString().Length >= 43);
        Assert.True(query["nonce"].ToString().Length >= 43);
        Assert.Equal("http://localhost/api/v1/auth/google/callback", query["redirect_uri"]);
        Assert.Contains(response.Headers.GetValues("Set-Cookie"), c => c.Contains("httponly", StringComparison.OrdinalIgnoreCase) &&
            c.Contains("samesite=lax", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Apple_gets_an_es256_client_secret_jwt_signed_with_the_team_key()
    {
        using var teamKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string? secret = null;
        fixture.Apple.ClientSecretCheck = presented =>
        {
            secret = presented;
            return true;
        };
        try
        {
            using var identity = fixture.Identity.WithWebHostBuilder(builder =>
            {
                builder.UseSetting("Identity:Providers:Apple:ClientSecret", "");
                builder.UseSetting("Identity:Providers:Apple:TeamId", "TEAM123456");
                builder.UseSetting("Identity:Providers:Apple:KeyId", "KEY7654321");
                builder.UseSetting("Identity:Providers:Apple:PrivateKey", teamKey.ExportPkcs8PrivateKeyPem());
            });
            using var browser = identity.CreateClient(new() { AllowAutoRedirect = false });
            fixture.Apple.NextUser = StandInUser.New();
            var callback = await LeaveForProviderAsync(browser, "apple",
                $"/api/v1/auth/apple/authorize?redirect_uri={Uri.EscapeDataString(IdentityFactory.WebRedirectUri)}");

            using var response = await browser.GetAsync(callback);

            Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        }
        finally
        {
            fixture.Apple.ClientSecretCheck = null;
        }

        var result = await new JsonWebTokenHandler().ValidateTokenAsync(secret, new TokenValidationParameters
        {
            ValidIssuer = "TEAM123456",
            ValidAudience = fixture.Apple.Issuer,
            IssuerSigningKey = new ECDsaSecurityKey(teamKey),
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal(fixture.Apple.ClientId, result.ClaimsIdentity.FindFirst("sub")?.Value);
        Assert.Equal("KEY7654321", new JsonWebToken(secret).Kid);
    }

    [Fact]
    public async Task A_replayed_state_is_400_and_signs_nobody_in()
    {
        using var browser = fixture.Browser();
        fixture.Google.NextUser = StandInUser.New();
        var callback = await LeaveForProviderAsync(browser, "google",
            $"/api/v1/auth/google/authorize?redirect_uri={Uri.EscapeDataString(IdentityFactory.WebRedirectUri)}");
        using var first = await browser.GetAsync(callback);
        Assert.Equal(HttpStatusCode.Found, first.StatusCode);

        using var replay = await browser.GetAsync(callback);

        await Problem.AssertAsync(replay, HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task A_state_from_another_browser_is_400_and_creates_no_user()
    {
        using var victim = fixture.Browser();
        using var attacker = fixture.Browser();
        var user = StandInUser.New();
        fixture.Google.NextUser = user;
        var callback = await LeaveForProviderAsync(victim, "google",
            $"/api/v1/auth/google/authorize?redirect_uri={Uri.EscapeDataString(IdentityFactory.WebRedirectUri)}");

        using var response = await attacker.GetAsync(callback);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.False(await fixture.LoginExistsAsync("google", user.Subject));
        using var late = await victim.GetAsync(callback); // and the state is spent
        await Problem.AssertAsync(late, HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task A_callback_with_a_forged_state_is_400()
    {
        using var browser = fixture.Browser();

        using var response = await browser.GetAsync("/api/v1/auth/google/callback?code=abc&state=made-up");

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "validation_failed");
    }

    [Theory]
    [InlineData("https://evil.example.test/callback")]
    [InlineData("https://app.test/callback/more")]
    [InlineData("https://app.test/callback?x=1")]
    [InlineData("https://app.test/")]
    [InlineData("HTTPS://APP.TEST/callback")]
    public async Task An_unregistered_redirect_uri_is_400_before_leaving_for_the_provider(string redirectUri)
    {
        using var browser = fixture.Browser();

        using var response = await browser.GetAsync($"/api/v1/auth/google/authorize?redirect_uri={Uri.EscapeDataString(redirectUri)}");

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "validation_failed");
    }

    [Theory]
    [InlineData("https://evil.example.test/connect/authorize?x=1")]
    [InlineData("//evil.example.test/connect/authorize?x=1")]
    [InlineData("/connect/authorize/../../evil?x=1")]
    [InlineData("/api/v1/auth/me")]
    public async Task A_foreign_return_to_is_400(string returnTo)
    {
        using var browser = fixture.Browser();

        using var response = await browser.GetAsync($"/api/v1/auth/google/authorize?return_to={Uri.EscapeDataString(returnTo)}");

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task A_provider_error_at_the_callback_is_401_and_creates_no_user()
    {
        using var browser = fixture.Browser();
        using var start = await browser.GetAsync(
            $"/api/v1/auth/google/authorize?redirect_uri={Uri.EscapeDataString(IdentityFactory.WebRedirectUri)}");
        var state = QueryHelpers.ParseQuery(start.Headers.Location!.Query)["state"];

        using var response = await browser.GetAsync($"/api/v1/auth/google/callback?error=access_denied&state={Uri.EscapeDataString(state!)}");

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "auth.provider_rejected");
    }

    [Fact]
    public async Task An_unknown_provider_is_404()
    {
        using var browser = fixture.Browser();

        using var response = await browser.GetAsync("/api/v1/auth/myspace/authorize?redirect_uri=https%3A%2F%2Fapp.test%2Fcallback");

        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Authorization_code_with_the_right_verifier_yields_tokens_for_the_signed_in_user()
    {
        using var browser = fixture.Browser();
        var user = StandInUser.New();
        var (code, verifier) = await AuthorizationCodeAsync(browser, user);

        using var response = await RedeemAsync(browser, code, verifier);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var token = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.Equal(["timepoint-api"], token.Audiences);
        var stored = await fixture.Identity.WithDbAsync(db => db.Users.FindAsync(Guid.Parse(token.Subject)).AsTask());
        Assert.Equal(user.Email, stored!.Email);
        Assert.Equal(user.Email, token.GetClaim("email").Value);
        Assert.False(string.IsNullOrEmpty(body.GetProperty("refresh_token").GetString()));
    }

    [Fact]
    public async Task Authorization_code_with_a_wrong_verifier_is_invalid_grant()
    {
        using var browser = fixture.Browser();
        var (code, _) = await AuthorizationCodeAsync(browser, StandInUser.New());

        using var response = await RedeemAsync(browser, code, Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_grant", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_replayed_authorization_code_is_invalid_grant()
    {
        using var browser = fixture.Browser();
        var (code, verifier) = await AuthorizationCodeAsync(browser, StandInUser.New());
        using var first = await RedeemAsync(browser, code, verifier);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        using var replay = await RedeemAsync(browser, code, verifier);

        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Equal("invalid_grant", (await replay.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Connect_authorize_without_a_session_offers_the_configured_providers()
    {
        using var browser = fixture.Browser();
        var (_, challenge) = Pkce();

        using var response = await browser.GetAsync(AuthorizeUrl(challenge, hint: null));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("/api/v1/auth/google/authorize?return_to=", page, StringComparison.Ordinal);
        Assert.Contains("/api/v1/auth/apple/authorize?return_to=", page, StringComparison.Ordinal);
        Assert.Contains("/api/v1/auth/github/authorize?return_to=", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_authorize_with_prompt_none_and_no_session_is_login_required()
    {
        using var browser = fixture.Browser();
        var (_, challenge) = Pkce();

        using var response = await browser.GetAsync(AuthorizeUrl(challenge, hint: null) + "&prompt=none");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var query = QueryHelpers.ParseQuery(response.Headers.Location!.Query);
        Assert.Equal("login_required", query["error"]);
    }

    [Fact]
    public async Task On_a_public_url_discovery_tokens_and_callbacks_name_it_and_the_sign_in_cookies_are_secure()
    {
        const string publicUrl = "https://api.example.test/"; // a name only: nothing is sent there
        await using var identity = fixture.Identity.WithWebHostBuilder(b => b.UseSetting("Identity:Tokens:Issuer", publicUrl));
        // The browser speaks https to the balancer, so it keeps Secure cookies and sends them back.
        using var browser = identity.CreateClient(new WebApplicationFactoryClientOptions
        {
            AllowAutoRedirect = false, BaseAddress = new Uri("https://localhost/"),
        });

        // Asked on identity's own address, as the edge asks it: the document still names only the public URL.
        var discovery = await browser.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");
        var named = discovery.EnumerateObject()
            .Where(p => p.Name == "issuer" || p.Name.EndsWith("_endpoint", StringComparison.Ordinal) || p.Name.EndsWith("_uri", StringComparison.Ordinal))
            .ToDictionary(p => p.Name, p => p.Value.GetString()!);
        Assert.Equal(publicUrl, named["issuer"]);
        Assert.Equal(publicUrl + "connect/token", named["token_endpoint"]);
        Assert.Equal(publicUrl + "connect/authorize", named["authorization_endpoint"]);
        Assert.Equal(publicUrl + "connect/revoke", named["revocation_endpoint"]);
        Assert.Equal(publicUrl + ".well-known/jwks", named["jwks_uri"]);
        Assert.All(named, p => Assert.StartsWith(publicUrl, p.Value, StringComparison.Ordinal));

        // The provider is told to send the browser back to the public URL; the sign-in state cookie is Secure.
        using var start = await browser.GetAsync(
            $"/api/v1/auth/google/authorize?redirect_uri={Uri.EscapeDataString(IdentityFactory.WebRedirectUri)}");
        Assert.Equal(HttpStatusCode.Found, start.StatusCode);
        Assert.Equal(publicUrl + "api/v1/auth/google/callback", QueryHelpers.ParseQuery(start.Headers.Location!.Query)["redirect_uri"]);
        Assert.Contains(start.Headers.GetValues("Set-Cookie"), c => c.StartsWith("tp_signin_", StringComparison.Ordinal) && IsSecure(c));

        // The session of the authorization-code flow is Secure too, and the code redeems for a token of the public issuer.
        string[] session = [];
        var (code, verifier) = await AuthorizationCodeAsync(browser, StandInUser.New(),
            back => session = back.Headers.GetValues("Set-Cookie").Where(c => c.StartsWith("tp_session=", StringComparison.Ordinal)).ToArray());
        Assert.True(session.Length == 1 && IsSecure(session[0]), string.Join(" | ", session));
        using var redeemed = await RedeemAsync(browser, code, verifier);
        var pair = await ProvidersFixture.TokenPairAsync(redeemed);
        Assert.Equal(publicUrl, new JsonWebToken(pair.AccessToken).Issuer);

        static bool IsSecure(string cookie) => cookie.Split(';').Any(a => a.Trim().Equals("secure", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>/connect/authorize -> Google stand-in -> callback (session) -> /connect/authorize -> code at the client.</summary>
    private async Task<(string Code, string Verifier)> AuthorizationCodeAsync(HttpClient browser, StandInUser user,
        Action<HttpResponseMessage>? sessionStarted = null)
    {
        fixture.Google.NextUser = user;
        var (verifier, challenge) = Pkce();
        using var start = await browser.GetAsync(AuthorizeUrl(challenge, hint: "google"));
        Assert.Equal(HttpStatusCode.Found, start.StatusCode);
        var signIn = start.Headers.Location!.OriginalString;
        Assert.StartsWith("/api/v1/auth/google/authorize?return_to=", signIn, StringComparison.Ordinal);

        var callback = await LeaveForProviderAsync(browser, "google", signIn);
        using var back = await browser.GetAsync(callback);
        Assert.Equal(HttpStatusCode.Found, back.StatusCode);
        sessionStarted?.Invoke(back);
        var resume = back.Headers.Location!.OriginalString;
        Assert.StartsWith("/connect/authorize?", resume, StringComparison.Ordinal);

        using var issued = await browser.GetAsync(resume);
        Assert.Equal(HttpStatusCode.Found, issued.StatusCode);
        var location = issued.Headers.Location!;
        Assert.StartsWith(IdentityFactory.WebRedirectUri + "?", location.AbsoluteUri, StringComparison.Ordinal);
        var query = QueryHelpers.ParseQuery(location.Query);
        Assert.Equal("xyz-client-state", query["state"]);
        return (query["code"]!, verifier);
    }

    private static Task<HttpResponseMessage> RedeemAsync(HttpClient client, string code, string verifier) =>
        client.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = IdentityFactory.WebClientId,
            ["redirect_uri"] = IdentityFactory.WebRedirectUri,
            ["code"] = code,
            ["code_verifier"] = verifier,
        }));

    private static string AuthorizeUrl(string challenge, string? hint) =>
        QueryHelpers.AddQueryString("/connect/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = IdentityFactory.WebClientId,
            ["redirect_uri"] = IdentityFactory.WebRedirectUri,
            ["response_type"] = "code",
            ["scope"] = "api",
            ["state"] = "xyz-client-state",
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
            ["identity_provider"] = hint,
        });

    private static (string Verifier, string Challenge) Pkce()
    {
        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        return (verifier, Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    /// <summary>Starts the flow at identity, then plays the provider's sign-in page; returns the callback path the provider sends the browser to.</summary>
    private async Task<string> LeaveForProviderAsync(HttpClient browser, string provider, string startPath)
    {
        using var start = await browser.GetAsync(startPath);
        Assert.True(start.StatusCode == HttpStatusCode.Found, await start.Content.ReadAsStringAsync());
        var providerUri = start.Headers.Location!;
        Assert.StartsWith(StandIn(provider).BaseUri.AbsoluteUri, providerUri.AbsoluteUri, StringComparison.Ordinal);

        using var outside = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var signedIn = await outside.GetAsync(providerUri);
        Assert.Equal(HttpStatusCode.Found, signedIn.StatusCode);
        var callback = signedIn.Headers.Location!;
        Assert.Equal($"/api/v1/auth/{provider}/callback", callback.AbsolutePath);
        return callback.PathAndQuery;
    }

    private StandInProvider StandIn(string provider) => provider switch
    {
        "google" => fixture.Google,
        "apple" => fixture.Apple,
        _ => fixture.GitHub,
    };
}

public sealed class BrowserSignInOnServerTests(ProvidersFixture fixture) : BrowserSignInTests(fixture), IClassFixture<ProvidersFixture>;

public sealed class BrowserSignInOnClusterTests(ClusterProvidersFixture fixture) : BrowserSignInTests(fixture), IClassFixture<ClusterProvidersFixture>;
