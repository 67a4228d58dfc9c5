using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Identity.Tests;

public sealed class TokenTests(IdentityFactory factory) : IClassFixture<IdentityFactory>
{
    [Fact]
    public async Task Demo_sign_in_returns_a_token_pair_with_a_signed_15_minute_access_token()
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/demo");
        request.FromClient(factory.GatewaySecret, $"198.51.100.{Random.Shared.Next(1, 250)}");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["access_token", "expires_in", "refresh_token", "token_type"], body.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal("bearer", body.GetProperty("token_type").GetString());
        Assert.InRange(body.GetProperty("expires_in").GetInt32(), 890, 900);

        var jwt = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.Equal("RS256", jwt.Alg);
        Assert.Equal("at+jwt", jwt.Typ);
        Assert.Equal("http://localhost/", jwt.Issuer);
        Assert.Equal(["timepoint-api"], jwt.Audiences);
        Assert.True(Guid.TryParse(jwt.Subject, out _));
        Assert.False(string.IsNullOrEmpty(jwt.Id));
        Assert.Equal(TimeSpan.FromMinutes(15), jwt.ValidTo - jwt.IssuedAt);
        Assert.Contains("api", jwt.GetClaim("scope").Value.Split(' '));
        // The refresh token is an opaque reference, not a readable JWT.
        Assert.DoesNotContain('.', body.GetProperty("refresh_token").GetString()!);
    }

    [Fact]
    public async Task An_access_token_is_verified_with_the_published_jwks_alone()
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);

        var result = await ValidateAsync(client, pair.AccessToken);

        Assert.True(result.IsValid, result.Exception?.Message);
    }

    [Fact]
    public async Task A_tampered_access_token_fails_jwks_verification()
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        var parts = pair.AccessToken.Split('.');
        var payload = Base64UrlEncoder.Decode(parts[1]).Replace("\"tier\":\"free\"", "\"tier\":\"enterprise\"", StringComparison.Ordinal);

        var result = await ValidateAsync(client, $"{parts[0]}.{Base64UrlEncoder.Encode(payload)}.{parts[2]}");

        Assert.False(result.IsValid);
    }

    [Fact]
    public async Task Key_rotation_publishes_the_new_key_first_and_old_tokens_stay_valid()
    {
        using var client = factory.CreateClient();
        var before = await factory.DevTokenAsync(client);
        var oldKid = new JsonWebToken(before.AccessToken).Kid;

        using var rotate = new HttpRequestMessage(HttpMethod.Post, "/internal/identity/keys/rotate");
        rotate.Headers.Add("X-Admin-Key", factory.AdminKey);
        using var rotated = await client.SendAsync(rotate);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);

        // Published at once, not yet signing (the publish lead is 5 s in these tests).
        var kids = await JwksKidsAsync(client);
        Assert.Contains(oldKid, kids);
        Assert.Equal(2, kids.Count);
        Assert.Equal(oldKid, new JsonWebToken((await factory.DevTokenAsync(client)).AccessToken).Kid);

        string? newKid = null;
        for (var i = 0; i < 100 && (newKid is null || newKid == oldKid); i++)
        {
            await Task.Delay(200);
            newKid = new JsonWebToken((await factory.DevTokenAsync(client)).AccessToken).Kid;
        }

        Assert.NotEqual(oldKid, newKid);
        Assert.Contains(newKid!, await JwksKidsAsync(client));
        Assert.True((await ValidateAsync(client, before.AccessToken)).IsValid, "a token signed before the rotation must stay valid");
    }

    [Fact]
    public async Task Refresh_rotates_the_refresh_token()
    {
        using var client = factory.CreateClient();
        var first = await factory.DevTokenAsync(client);

        var second = await RefreshAsync(client, first.RefreshToken);

        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.NotEqual(first.RefreshToken, second.Pair!.RefreshToken);
        Assert.Equal(new JsonWebToken(first.AccessToken).Subject, new JsonWebToken(second.Pair.AccessToken).Subject);
    }

    [Fact]
    public async Task Refresh_token_reuse_revokes_the_whole_family()
    {
        using var client = factory.CreateClient();
        var first = await factory.DevTokenAsync(client);
        var second = (await RefreshAsync(client, first.RefreshToken)).Pair!;

        var replay = await RefreshAsync(client, first.RefreshToken);
        var afterTheft = await RefreshAsync(client, second.RefreshToken);

        Assert.Equal(HttpStatusCode.Unauthorized, replay.Status);
        Assert.Equal("auth.jwt_invalid", replay.Problem.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, afterTheft.Status);
    }

    [Fact]
    public async Task Twenty_concurrent_refreshes_with_one_token_let_exactly_one_through_and_revoke_the_family()
    {
        using var client = factory.CreateClient();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var pair = await factory.DevTokenAsync(client);
            var start = new TaskCompletionSource();
            var racers = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
            {
                await start.Task;
                return await RefreshAsync(client, pair.RefreshToken);
            })).ToList();
            start.SetResult();
            var answers = await Task.WhenAll(racers);

            var winner = Assert.Single(answers, a => a.Status == HttpStatusCode.OK);
            Assert.All(answers.Where(a => a.Status != HttpStatusCode.OK), loser =>
            {
                Assert.Equal(HttpStatusCode.Unauthorized, loser.Status);
                Assert.Equal("auth.jwt_invalid", loser.Problem.GetProperty("code").GetString());
            });
            // The winner's chain is the family too: treated as stolen, it is revoked with the rest.
            Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(client, winner.Pair!.RefreshToken)).Status);
        }
    }

    [Fact]
    public async Task Logout_ends_refresh()
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        var user = Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);

        using var logout = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout").Signed(factory.GatewaySecret, user);
        using var response = await client.SendAsync(logout);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Logged out", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(client, pair.RefreshToken)).Status);
    }

    [Fact]
    public async Task Logout_with_an_api_key_identity_is_refused()
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        var user = Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);

        using var logout = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout").Signed(factory.GatewaySecret, user, "api_key");
        using var response = await client.SendAsync(logout);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(client, pair.RefreshToken)).Status);
    }

    [Fact]
    public async Task A_disabled_user_can_neither_refresh_nor_sign_in()
    {
        using var client = factory.CreateClient();
        var email = $"disabled-{Guid.NewGuid():N}@example.test";
        var pair = await factory.DevTokenAsync(client, email);
        var id = Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);
        await factory.WithDbAsync(async db =>
        {
            var user = await db.Users.FindAsync(id);
            user!.Disabled = true;
            return await db.SaveChangesAsync();
        });

        var refresh = await RefreshAsync(client, pair.RefreshToken);
        using var signIn = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/dev/token")
        {
            Content = JsonContent.Create(new { email }),
        };
        signIn.Headers.Add("X-Admin-Key", factory.AdminKey);
        using var signInResponse = await client.SendAsync(signIn);

        Assert.Equal(HttpStatusCode.Unauthorized, refresh.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, signInResponse.StatusCode);
    }

    [Theory]
    [InlineData("{not json", HttpStatusCode.BadRequest)]
    [InlineData("[]", HttpStatusCode.UnprocessableEntity)]
    [InlineData("{\"refresh_token\": 42}", HttpStatusCode.UnprocessableEntity)]
    [InlineData("{\"refresh_token\": \"x\", \"grant_type\": \"password\"}", HttpStatusCode.UnprocessableEntity)]
    [InlineData("{}", HttpStatusCode.BadRequest)]
    [InlineData("{\"refresh_token\": \"not-a-token\"}", HttpStatusCode.Unauthorized)]
    public async Task Bad_refresh_requests_get_a_problem_with_a_code(string json, HttpStatusCode expected)
    {
        using var client = factory.CreateClient();

        using var response = await client.PostAsync("/api/v1/auth/refresh", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("code").GetString()));
    }

    [Fact]
    public async Task Password_grant_is_refused()
    {
        using var client = factory.CreateClient();

        using var response = await client.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "a", ["password"] = "b",
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("unsupported_grant_type", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Custom_sign_in_grants_are_not_accepted_on_the_oauth_token_endpoint()
    {
        using var client = factory.CreateClient();

        using var response = await client.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "urn:timepoint:grant-type:dev", ["email"] = "sneaky@example.test",
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task A_registered_service_client_gets_a_token_with_client_credentials()
    {
        using var client = factory.CreateClient();

        using var response = await client.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = IdentityFactory.ServiceClientId,
            ["client_secret"] = IdentityFactory.ServiceClientSecret, ["scope"] = "api",
        }));
        using var wrongSecret = await client.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = IdentityFactory.ServiceClientId, ["client_secret"] = "wrong",
        }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var jwt = new JsonWebToken((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString());
        Assert.Equal(IdentityFactory.ServiceClientId, jwt.Subject);
        Assert.True((await ValidateAsync(client, jwt.EncodedToken)).IsValid);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongSecret.StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("plain")]
    public async Task Authorization_requests_without_an_S256_challenge_are_refused(string? method)
    {
        using var client = factory.CreateClient(new() { AllowAutoRedirect = false });
        var query = $"/connect/authorize?client_id={IdentityFactory.WebClientId}&response_type=code&scope=api" +
            $"&redirect_uri={Uri.EscapeDataString(IdentityFactory.WebRedirectUri)}&state=s1";
        if (method is not null)
        {
            query += $"&code_challenge=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq&code_challenge_method={method}";
        }

        using var response = await client.GetAsync(query);

        // Refused before the redirect URI is trusted, so answered here rather than by redirect.
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("error:invalid_request", body);
        Assert.Contains("code_challenge", body);
    }

    private async Task<(HttpStatusCode Status, TokenPairDto? Pair, JsonElement Problem)> RefreshAsync(HttpClient client, string refreshToken)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = refreshToken });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return response.IsSuccessStatusCode
            ? (response.StatusCode, body.Deserialize<TokenPairDto>(IdentityFactory.Json), default)
            : (response.StatusCode, null, body);
    }

    private static async Task<HashSet<string>> JwksKidsAsync(HttpClient client)
    {
        var jwks = new JsonWebKeySet(await client.GetStringAsync("/.well-known/jwks"));
        return [.. jwks.Keys.Select(k => k.Kid)];
    }

    [Theory]
    [MemberData(nameof(PublicUrls.Bad), MemberType = typeof(PublicUrls))]
    public void A_bad_public_url_stops_identity_at_start_naming_the_setting(string issuer) =>
        PublicUrls.AssertRefusedAtStart(factory, "Identity:Tokens:Issuer", issuer);

    private static async Task<TokenValidationResult> ValidateAsync(HttpClient client, string token)
    {
        var jwks = new JsonWebKeySet(await client.GetStringAsync("/.well-known/jwks"));
        return await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = "http://localhost/",
            ValidAudience = "timepoint-api",
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidTypes = ["at+jwt"],
            ValidAlgorithms = ["RS256"],
        });
    }
}
