using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.EndToEnd.Tests;

/// <summary>What a client sees at the edge: routing, authentication, header hygiene and errors.</summary>
[Collection(PlatformCollection.Name)]
public sealed class EdgeTests(PlatformFixture platform)
{
    [Fact]
    public async Task Seed_example_generate_sync_with_a_jwt_returns_a_timepoint()
    {
        var user = await platform.NewUserAsync();

        using var response = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync",
            new { query = "Moon landing, July 20 1969", generate_image = true }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var timepoint = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Moon landing, July 20 1969", timepoint.GetProperty("query").GetString());
        Assert.True(timepoint.GetProperty("has_image").GetBoolean());
        foreach (var field in new[] { "id", "slug", "status", "year", "era", "location", "characters", "dialog", "scene", "image_url" })
        {
            Assert.True(timepoint.TryGetProperty(field, out _), field);
        }

        Assert.Equal("5", response.Headers.GetValues("X-Credits-Charged").Single());
    }

    [Theory]
    [InlineData("/api/v1/clockchain/stats")]
    [InlineData("/api/v1/clockchain/moments?limit=10")]
    public async Task Seed_example_clockchain_reads_need_no_credentials(string path)
    {
        using var response = await platform.Gateway.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(body.TryGetProperty(path.Contains("stats") ? "total_nodes" : "items", out _));
    }

    [Theory]
    [InlineData("X-User-ID")]
    [InlineData("x-user-id")]
    [InlineData("X_User_Id")]
    [InlineData("X-Auth-User")]
    [InlineData("X-Gateway-Signature")]
    [InlineData("X-Forwarded-For")]
    public async Task A_spoofed_trust_header_never_reaches_a_backend(string header)
    {
        var user = await platform.NewUserAsync();
        var victim = await platform.NewUserAsync();

        // A public route: an unsigned identity reaching clockchain would be refused there with 403.
        using var publicRequest = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats");
        publicRequest.Headers.TryAddWithoutValidation(header, victim.UserId.ToString());
        using var publicResponse = await platform.Gateway.SendAsync(publicRequest);
        // A user route: the backend must see the token's user, never the header's.
        using var me = PlatformFixture.As(user, HttpMethod.Get, "/api/v1/auth/me");
        me.Headers.TryAddWithoutValidation(header, [victim.UserId.ToString(), $"{victim.UserId}, {victim.UserId}"]);
        using var meResponse = await platform.Gateway.SendAsync(me);

        Assert.Equal(HttpStatusCode.OK, publicResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, meResponse.StatusCode);
        Assert.Equal(user.UserId, (await meResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task A_backend_called_directly_gets_no_identity_without_the_gateway_signature()
    {
        using var flash = platform.App.CreateHttpClient("flash");
        using var unsigned = new HttpRequestMessage(HttpMethod.Get, "/api/v1/timepoints");
        unsigned.Headers.Add("X-User-ID", Guid.NewGuid().ToString());

        using var spoofed = await flash.SendAsync(unsigned);
        using var anonymous = await flash.GetAsync("/api/v1/timepoints");

        Assert.Equal(HttpStatusCode.Forbidden, spoofed.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Theory]
    [InlineData("/internal/credits/reserve")]
    [InlineData("/internal/identity/api-keys/verify")]
    [InlineData("/internal/users/00000000-0000-0000-0000-000000000001")]
    public async Task Internal_routes_are_403_from_outside(string path)
    {
        using var response = await platform.Gateway.PostAsync(path, JsonContent.Create(new { }));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("auth.forbidden", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("GET", "/api/v1/auth/me")]
    [InlineData("POST", "/api/v1/auth/logout")]
    [InlineData("GET", "/api/v1/users/me")]
    [InlineData("GET", "/api/v1/users/me/timepoints")]
    [InlineData("GET", "/api/v1/credits/balance")]
    [InlineData("GET", "/api/v1/credits/history")]
    [InlineData("GET", "/api/v1/auth/api-keys")]
    [InlineData("POST", "/api/v1/timepoints/generate/sync")]
    [InlineData("POST", "/api/v1/conductor/pro/simulate")]
    public async Task User_routes_without_credentials_are_401_auth_missing(string method, string path)
    {
        using var response = await platform.Gateway.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("auth.missing", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDEifQ.")]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    public async Task Malformed_or_unsigned_jwts_are_401_jwt_invalid(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);

        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("auth.jwt_invalid", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_tampered_jwt_is_401()
    {
        var user = await platform.NewUserAsync();
        var parts = user.AccessToken.Split('.');
        var signature = parts[2].ToCharArray();
        signature[10] = signature[10] == 'A' ? 'B' : 'A';

        using var response = await platform.Gateway.SendAsync(PlatformFixture.As(
            user with { AccessToken = $"{parts[0]}.{parts[1]}.{new string(signature)}" }, HttpMethod.Get, "/api/v1/credits/balance"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Two_credentials_in_one_request_are_401()
    {
        var user = await platform.NewUserAsync();
        using var request = PlatformFixture.As(user, HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Add("X-API-Key", "tp_gw_000000000000000000000000000000");

        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Proxied_responses_carry_rate_limit_headers_and_a_request_id()
    {
        var user = await platform.NewUserAsync();
        using var request = PlatformFixture.As(user, HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Add("X-Request-ID", "client-req-42");

        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("300", response.Headers.GetValues("X-RateLimit-Limit").Single());
        Assert.InRange(int.Parse(response.Headers.GetValues("X-RateLimit-Remaining").Single()), 0, 299);
        Assert.True(long.Parse(response.Headers.GetValues("X-RateLimit-Reset").Single()) > DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal("client-req-42", response.Headers.GetValues("X-Request-ID").Single());
    }

    [Fact]
    public async Task Metered_calls_beyond_the_free_tier_are_429_with_retry_after()
    {
        var (statuses, last) = await PlatformFixture.InOneRateLimitWindowAsync(async () =>
        {
            var user = await platform.NewUserAsync();
            var statuses = new List<HttpStatusCode>();
            HttpResponseMessage? last = null;
            for (var i = 0; i < 11; i++)
            {
                last?.Dispose();
                last = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate",
                    new { query = $"Tier limit probe {i}" }));
                statuses.Add(last.StatusCode);
            }

            return (statuses, last!);
        });

        Assert.DoesNotContain(HttpStatusCode.TooManyRequests, statuses.Take(10));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[10]);
        Assert.True(last!.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal("0", last.Headers.GetValues("X-RateLimit-Remaining").Single());
        last.Dispose();
    }

    [Fact]
    public async Task Unknown_routes_are_404_problems()
    {
        using var response = await platform.Gateway.GetAsync("/api/v1/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not_found", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Private_timepoints_are_hidden_from_other_users_through_the_edge()
    {
        var owner = await platform.NewUserAsync();
        var other = await platform.NewUserAsync();
        using var created = await platform.Gateway.SendAsync(PlatformFixture.As(owner, HttpMethod.Post, "/api/v1/timepoints/generate/sync",
            new { query = "A private moment in 1805", visibility = "private" }));
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        using var mine = await platform.Gateway.SendAsync(PlatformFixture.As(owner, HttpMethod.Get, $"/api/v1/timepoints/{id}"));
        using var theirs = await platform.Gateway.SendAsync(PlatformFixture.As(other, HttpMethod.Get, $"/api/v1/timepoints/{id}"));
        using var myList = await platform.Gateway.SendAsync(PlatformFixture.As(owner, HttpMethod.Get, "/api/v1/users/me/timepoints"));

        Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, theirs.StatusCode);
        Assert.Contains((await myList.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray(),
            t => t.GetProperty("id").GetString() == id);
    }

    [Fact]
    public async Task Sign_in_refresh_and_logout_work_through_the_edge()
    {
        using var demo = await platform.Gateway.PostAsync("/api/v1/auth/demo", null);
        Assert.Equal(HttpStatusCode.OK, demo.StatusCode);
        var user = await platform.NewUserAsync();

        using var refreshed = await platform.Gateway.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = user.RefreshToken });
        using var logout = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/auth/logout"));
        var newRefresh = (await refreshed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("refresh_token").GetString();
        using var afterLogout = await platform.Gateway.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = newRefresh });

        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, afterLogout.StatusCode);
    }

    [Fact]
    public async Task The_discovery_document_through_the_edge_names_only_the_edge_and_its_jwks_validates_a_platform_token()
    {
        var user = await platform.NewUserAsync();
        var edge = platform.Gateway.BaseAddress!;
        var address = new Uri(edge, "/.well-known/openid-configuration").AbsoluteUri;

        // A standard OIDC client: it reads the document, then the JWKS at the jwks_uri the document names.
        var retriever = new HttpDocumentRetriever(platform.Gateway) { RequireHttps = false };
        var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(address, retriever, CancellationToken.None);
        var document = JsonDocument.Parse(await retriever.GetDocumentAsync(address, CancellationToken.None)).RootElement;
        var named = document.EnumerateObject()
            .Where(p => p.Name == "issuer" || p.Name.EndsWith("_endpoint", StringComparison.Ordinal) || p.Name.EndsWith("_uri", StringComparison.Ordinal))
            .ToDictionary(p => p.Name, p => new Uri(p.Value.GetString()!));

        Assert.Equal(edge.AbsoluteUri, configuration.Issuer);
        Assert.Superset(new HashSet<string> { "issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint", "jwks_uri" },
            named.Keys.ToHashSet());
        Assert.All(named, p => Assert.True(p.Value.GetLeftPart(UriPartial.Authority) == edge.GetLeftPart(UriPartial.Authority),
            $"{p.Key} is {p.Value}, not on the edge {edge}"));
        Assert.NotEmpty(configuration.SigningKeys);
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(user.AccessToken, new TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = "timepoint-api",
            IssuerSigningKeys = configuration.SigningKeys,
            ValidTypes = ["at+jwt"],
        });
        Assert.True(validation.IsValid, validation.Exception?.Message);

        // Every endpoint named answers through the edge (OpenIddict's 400 for an empty request, not the edge's 404).
        foreach (var (name, url) in named.Where(p => p.Key != "issuer"))
        {
            using var response = name == "jwks_uri"
                ? await platform.Gateway.GetAsync(url)
                : await platform.Gateway.PostAsync(url, new FormUrlEncodedContent([]));
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest,
                $"{name} {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }
}
