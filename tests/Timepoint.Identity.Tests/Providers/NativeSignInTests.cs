using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Identity.Tests.Providers;

/// <summary>POST /api/v1/auth/{apple,google,github}: the native apps' exchanges, against local stand-in providers.</summary>
public sealed class NativeSignInTests(ProvidersFixture fixture) : IClassFixture<ProvidersFixture>
{
    private const string AppRedirect = "com.timepoint.app:/oauth/github";

    [Fact]
    public async Task Google_first_sign_in_creates_the_user_once_and_signing_in_again_returns_the_same_user()
    {
        using var client = fixture.Browser();
        var user = StandInUser.New();

        var first = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/google",
            new { id_token = fixture.Google.IdToken(user) }));
        var again = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/google",
            new { id_token = fixture.Google.IdToken(user) }));

        var id = ProvidersFixture.UserIdOf(first.AccessToken);
        Assert.Equal(id, ProvidersFixture.UserIdOf(again.AccessToken));
        Assert.Equal("bearer", first.TokenType);
        Assert.False(string.IsNullOrEmpty(first.RefreshToken));
        Assert.Equal(1, await fixture.SignupBonusesAsync(id));
        var stored = await fixture.Identity.WithDbAsync(db => db.Users.FindAsync(id).AsTask());
        Assert.Equal(user.Email, stored!.Email);
        Assert.Equal(user.Name, stored.DisplayName);
    }

    [Fact]
    public async Task Apple_es256_token_with_string_email_verified_and_hashed_nonce_signs_in_for_any_configured_app()
    {
        using var client = fixture.Browser();
        var user = StandInUser.New();
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var hashed = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(nonce)));
        var token = fixture.Apple.IdToken(user, nonce: hashed, audience: ProvidersFixture.IosClientId, emailVerifiedAsString: true);

        var pair = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/apple", new { identity_token = token, nonce }));

        var id = ProvidersFixture.UserIdOf(pair.AccessToken);
        var stored = await fixture.Identity.WithDbAsync(db => db.Users.FindAsync(id).AsTask());
        Assert.Equal(user.Email, stored!.Email);
    }

    [Fact]
    public async Task Apple_token_with_another_nonce_is_refused()
    {
        using var client = fixture.Browser();
        var user = StandInUser.New();
        var token = fixture.Apple.IdToken(user, nonce: "nonce-the-app-did-not-send");

        using var response = await client.PostAsJsonAsync("/api/v1/auth/apple", new { identity_token = token, nonce = "expected-nonce" });

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "auth.jwt_invalid");
        Assert.False(await fixture.LoginExistsAsync("apple", user.Subject));
    }

    [Fact]
    public async Task A_second_provider_links_to_the_existing_user_through_a_verified_email()
    {
        using var client = fixture.Browser();
        var email = $"link-{Guid.NewGuid():N}@example.test";
        var google = StandInUser.New(email: email);
        var github = StandInUser.New(email: email.ToUpperInvariant());

        var first = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/google",
            new { id_token = fixture.Google.IdToken(google) }));
        var second = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/github",
            new { code = fixture.GitHub.IssueCode(github, AppRedirect), redirect_uri = AppRedirect }));

        var id = ProvidersFixture.UserIdOf(first.AccessToken);
        Assert.Equal(id, ProvidersFixture.UserIdOf(second.AccessToken));
        Assert.Equal(1, await fixture.SignupBonusesAsync(id));
    }

    [Fact]
    public async Task An_unverified_email_never_links_to_an_existing_user()
    {
        using var client = fixture.Browser();
        var email = $"nolink-{Guid.NewGuid():N}@example.test";
        var first = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/google",
            new { id_token = fixture.Google.IdToken(StandInUser.New(email: email)) }));

        var github = StandInUser.New(emailVerified: false, email: email);
        var second = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/github",
            new { code = fixture.GitHub.IssueCode(github, AppRedirect), redirect_uri = AppRedirect }));
        var apple = StandInUser.New(emailVerified: false, email: email);
        var third = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/apple",
            new { identity_token = fixture.Apple.IdToken(apple, emailVerifiedAsString: true) }));

        var id = ProvidersFixture.UserIdOf(first.AccessToken);
        Assert.NotEqual(id, ProvidersFixture.UserIdOf(second.AccessToken));
        Assert.NotEqual(id, ProvidersFixture.UserIdOf(third.AccessToken));
        var created = await fixture.Identity.WithDbAsync(db => db.Users.FindAsync(ProvidersFixture.UserIdOf(second.AccessToken)).AsTask());
        Assert.Null(created!.Email);
    }

    public static TheoryData<string> BadTokens => ["forged", "expired", "wrong-audience", "wrong-issuer", "alg-none", "hs256-confused", "garbage"];

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task A_bad_google_id_token_is_401_and_creates_no_user(string kind)
    {
        using var client = fixture.Browser();
        var user = StandInUser.New();
        var google = fixture.Google;
        var forger = new RsaSecurityKey(RSA.Create(2048)) { KeyId = google.SigningKey.KeyId };
        var token = kind switch
        {
            "forged" => google.IdToken(user, key: forger),
            "expired" => google.IdToken(user, expires: DateTime.UtcNow.AddMinutes(-5)),
            "wrong-audience" => google.IdToken(user, audience: "someone-elses-app"),
            "wrong-issuer" => google.IdToken(user, issuer: "https://evil.example.test"),
            "alg-none" => google.UnsignedIdToken(user),
            "hs256-confused" => google.HmacConfusedIdToken(user),
            _ => "not.a.jwt",
        };

        using var response = await client.PostAsJsonAsync("/api/v1/auth/google", new { id_token = token });

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, kind == "expired" ? "auth.jwt_expired" : "auth.jwt_invalid");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        Assert.False(await fixture.LoginExistsAsync("google", user.Subject));
    }

    [Fact]
    public async Task A_google_token_from_apple_is_refused()
    {
        using var client = fixture.Browser();
        var user = StandInUser.New();

        using var response = await client.PostAsJsonAsync("/api/v1/auth/google", new { id_token = fixture.Apple.IdToken(user) });

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "auth.jwt_invalid");
        Assert.False(await fixture.LoginExistsAsync("google", user.Subject));
    }

    [Fact]
    public async Task A_rotated_provider_key_is_fetched_when_a_token_names_its_kid()
    {
        using var client = fixture.Browser();
        await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/google",
            new { id_token = fixture.Google.IdToken(StandInUser.New()) }));
        var fetches = fixture.Google.JwksRequests;
        await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/google",
            new { id_token = fixture.Google.IdToken(StandInUser.New()) }));
        Assert.Equal(fetches, fixture.Google.JwksRequests); // cached

        fixture.Google.RotateKey();
        var pair = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/google",
            new { id_token = fixture.Google.IdToken(StandInUser.New()) }));

        Assert.Equal(fetches + 1, fixture.Google.JwksRequests);
        Assert.NotNull(pair.AccessToken);
    }

    [Fact]
    public async Task Tokens_naming_unknown_kids_refetch_the_jwks_at_most_once_per_interval()
    {
        using var identity = fixture.Identity.WithWebHostBuilder(builder =>
            builder.UseSetting("Identity:Providers:JwksMinRefreshInterval", "00:05:00"));
        using var client = identity.CreateClient();
        await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/google",
            new { id_token = fixture.Google.IdToken(StandInUser.New()) }));
        var fetches = fixture.Google.JwksRequests;

        for (var i = 0; i < 5; i++)
        {
            var forger = new RsaSecurityKey(RSA.Create(2048)) { KeyId = $"made-up-{i}" };
            using var response = await client.PostAsJsonAsync("/api/v1/auth/google",
                new { id_token = fixture.Google.IdToken(StandInUser.New(), key: forger) });
            await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "auth.jwt_invalid");
        }

        Assert.Equal(fetches, fixture.Google.JwksRequests);
    }

    [Fact]
    public async Task An_oversized_provider_answer_is_503_and_creates_no_user()
    {
        using var client = fixture.Browser();
        var user = StandInUser.New();
        fixture.GitHub.Padding = 300 * 1024; // the limit is 256 KiB
        try
        {
            using var response = await client.PostAsJsonAsync("/api/v1/auth/github",
                new { code = fixture.GitHub.IssueCode(user, AppRedirect), redirect_uri = AppRedirect });

            await Problem.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
        }
        finally
        {
            fixture.GitHub.Padding = 0;
        }

        Assert.False(await fixture.LoginExistsAsync("github", user.Subject));
    }

    [Fact]
    public async Task GitHub_code_exchange_with_pkce_signs_up_then_in_as_the_same_user()
    {
        using var client = fixture.Browser();
        var user = StandInUser.New();
        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

        var first = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/github",
            new { code = fixture.GitHub.IssueCode(user, AppRedirect, challenge), redirect_uri = AppRedirect, code_verifier = verifier }));
        var again = await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/github",
            new { code = fixture.GitHub.IssueCode(user, AppRedirect), redirect_uri = AppRedirect }));

        var id = ProvidersFixture.UserIdOf(first.AccessToken);
        Assert.Equal(id, ProvidersFixture.UserIdOf(again.AccessToken));
        Assert.True(await fixture.LoginExistsAsync("github", user.Subject));
        var stored = await fixture.Identity.WithDbAsync(db => db.Users.FindAsync(id).AsTask());
        Assert.Equal(user.Email, stored!.Email); // the verified primary address, not the other one
    }

    [Theory]
    [InlineData("unknown-code")]
    [InlineData("replayed-code")]
    [InlineData("wrong-redirect-uri")]
    [InlineData("wrong-verifier")]
    public async Task A_github_code_the_provider_refuses_is_401_and_creates_no_user(string kind)
    {
        using var client = fixture.Browser();
        var user = StandInUser.New();
        var challenge = Base64UrlEncoder.Encode(SHA256.HashData("right-verifier"u8));
        var code = kind == "unknown-code" ? "no-such-code" : fixture.GitHub.IssueCode(user, AppRedirect, challenge);
        if (kind == "replayed-code")
        {
            await ProvidersFixture.TokenPairAsync(await client.PostAsJsonAsync("/api/v1/auth/github",
                new { code, redirect_uri = AppRedirect, code_verifier = "right-verifier" }));
            user = StandInUser.New(); // the replay must not sign anyone in
        }

        using var response = await client.PostAsJsonAsync("/api/v1/auth/github", new
        {
            code,
            redirect_uri = kind == "wrong-redirect-uri" ? "https://evil.example.test/cb" : AppRedirect,
            code_verifier = kind == "wrong-verifier" ? "wrong-verifier" : "right-verifier",
        });

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "auth.provider_rejected");
        if (kind != "replayed-code")
        {
            Assert.False(await fixture.LoginExistsAsync("github", user.Subject));
        }
    }

    [Theory]
    [InlineData("/api/v1/auth/google", "{}")]
    [InlineData("/api/v1/auth/apple", "{\"identity_token\":\"\"}")]
    [InlineData("/api/v1/auth/github", "{\"code\":\"abc\"}")]
    public async Task A_request_without_the_provider_credential_is_400(string path, string body)
    {
        using var client = fixture.Browser();

        using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Provider_down_or_slow_is_503_and_creates_no_user()
    {
        using var client = fixture.Browser();
        var user = StandInUser.New();
        try
        {
            fixture.GitHub.Down = true;
            using var down = await client.PostAsJsonAsync("/api/v1/auth/github",
                new { code = fixture.GitHub.IssueCode(user, AppRedirect), redirect_uri = AppRedirect });
            await Problem.AssertAsync(down, HttpStatusCode.ServiceUnavailable, "upstream_unavailable");

            fixture.GitHub.Down = false;
            fixture.GitHub.Delay = TimeSpan.FromSeconds(30);
            var started = DateTime.UtcNow;
            using var slow = await client.PostAsJsonAsync("/api/v1/auth/github",
                new { code = fixture.GitHub.IssueCode(user, AppRedirect), redirect_uri = AppRedirect });
            await Problem.AssertAsync(slow, HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20), "the provider timeout (5 s here) bounds the wait");
        }
        finally
        {
            fixture.GitHub.Down = false;
            fixture.GitHub.Delay = TimeSpan.Zero;
        }

        Assert.False(await fixture.LoginExistsAsync("github", user.Subject));
    }

    [Fact]
    public async Task A_provider_without_credentials_answers_503_provider_not_configured()
    {
        using var unconfigured = fixture.Identity.WithWebHostBuilder(builder =>
        {
            builder.UseSetting("Identity:Providers:Google:ClientId", "");
            builder.UseSetting("Identity:Providers:GitHub:ClientSecret", "");
        });
        using var client = unconfigured.CreateClient(new() { AllowAutoRedirect = false });

        using var google = await client.PostAsJsonAsync("/api/v1/auth/google", new { id_token = fixture.Google.IdToken(StandInUser.New()) });
        using var github = await client.PostAsJsonAsync("/api/v1/auth/github", new { code = "abc", redirect_uri = AppRedirect });
        using var browser = await client.GetAsync($"/api/v1/auth/github/authorize?redirect_uri={Uri.EscapeDataString(IdentityFactory.WebRedirectUri)}");

        await Problem.AssertAsync(google, HttpStatusCode.ServiceUnavailable, "provider_not_configured");
        await Problem.AssertAsync(github, HttpStatusCode.ServiceUnavailable, "provider_not_configured");
        await Problem.AssertAsync(browser, HttpStatusCode.ServiceUnavailable, "provider_not_configured");
    }

    [Fact]
    public async Task Every_503_of_the_provider_routes_carries_retry_after()
    {
        using var unconfigured = fixture.Identity.WithWebHostBuilder(builder =>
        {
            foreach (var provider in new[] { "Apple", "Google", "GitHub" })
            {
                builder.UseSetting($"Identity:Providers:{provider}:ClientId", "");
                builder.UseSetting($"Identity:Providers:{provider}:ClientSecret", "");
            }
        });
        using var client = unconfigured.CreateClient(new() { AllowAutoRedirect = false });
        var web = Uri.EscapeDataString(IdentityFactory.WebRedirectUri);
        var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(new string('v', 64))));
        var notConfigured = new List<HttpResponseMessage>
        {
            await client.PostAsJsonAsync("/api/v1/auth/apple", new { identity_token = fixture.Apple.IdToken(StandInUser.New()) }),
            await client.PostAsJsonAsync("/api/v1/auth/google", new { id_token = fixture.Google.IdToken(StandInUser.New()) }),
            await client.PostAsJsonAsync("/api/v1/auth/github", new { code = "abc", redirect_uri = AppRedirect }),
        };
        foreach (var provider in new[] { "apple", "google", "github" })
        {
            notConfigured.Add(await client.GetAsync($"/api/v1/auth/{provider}/authorize?redirect_uri={web}"));
        }

        notConfigured.Add(await client.GetAsync($"/connect/authorize?client_id={IdentityFactory.WebClientId}&redirect_uri={web}" +
            $"&response_type=code&scope=api&state=s&code_challenge={challenge}&code_challenge_method=S256"));
        foreach (var response in notConfigured)
        {
            using (response)
            {
                await Problem.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "provider_not_configured");
                Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, response.RequestMessage!.RequestUri!.AbsolutePath);
            }
        }

        // A provider that is down (configured here).
        using var browser = fixture.Browser();
        try
        {
            fixture.GitHub.Down = true;
            using var down = await browser.PostAsJsonAsync("/api/v1/auth/github",
                new { code = fixture.GitHub.IssueCode(StandInUser.New(), AppRedirect), redirect_uri = AppRedirect });
            await Problem.AssertAsync(down, HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
            Assert.True(down.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        }
        finally
        {
            fixture.GitHub.Down = false;
        }
    }
}
