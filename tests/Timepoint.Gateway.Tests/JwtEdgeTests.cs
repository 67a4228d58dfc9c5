using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Gateway.Tests;

/// <summary>The edge against stand-in identity and backend servers, with real Redis: what gets in, and what the backend sees.</summary>
public sealed class JwtEdgeTests : EdgeHarness
{
    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Gateway:JwksMinimumRefreshInterval"] = "00:00:01";
    }

    [Fact]
    public async Task A_valid_token_reaches_the_backend_as_a_signed_identity_and_spoofed_headers_do_not()
    {
        var user = Guid.NewGuid();
        using var request = Get(identity.Token(user));
        request.Headers.TryAddWithoutValidation("X-User-ID", Guid.NewGuid().ToString());
        request.Headers.TryAddWithoutValidation("x_user_id", Guid.NewGuid().ToString());
        request.Headers.TryAddWithoutValidation("X-Gateway-Metered", "true");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echoed = await response.Content.ReadFromJsonAsync<JsonElement>();
        var seen = echoed.GetProperty("headers");
        Assert.Equal([user.ToString()], Values(seen, "x-user-id"));
        Assert.False(seen.TryGetProperty("x_user_id", out _));
        Assert.False(seen.TryGetProperty("x-gateway-metered", out _));
        Assert.False(seen.TryGetProperty("authorization", out _));
        Assert.Equal(["jwt"], Values(seen, "x-auth-method"));
        var forward = EchoBackend.Forward(echoed);
        Assert.Equal(("GET", "/api/v1/credits/balance", user.ToString(), "jwt", ""), (forward.Method, forward.PathAndQuery, forward.UserId, forward.AuthMethod, forward.ReservationId));
        Assert.True(EchoBackend.SignedAs(echoed, forward, gateway.GatewaySecret));
        Assert.False(EchoBackend.SignedAs(echoed, forward with { UserId = Guid.NewGuid().ToString() }, gateway.GatewaySecret));
    }

    [Fact]
    public async Task Service_and_admin_keys_travel_only_on_routes_that_declare_them()
    {
        using var userRoute = Get(identity.Token(Guid.NewGuid()));
        userRoute.Headers.Add("X-Admin-Key", "someone-elses-admin-key");
        userRoute.Headers.Add("X-Service-Key", "someone-elses-service-key");
        using var adminRoute = new HttpRequestMessage(HttpMethod.Post, "/api/v1/credits/admin/grant") { Content = JsonContent.Create(new { }) };
        adminRoute.Headers.Add("X-Admin-Key", "the-admin-key");
        adminRoute.Headers.Add("X-Service-Key", "not-for-this-route");

        using var user = await client.SendAsync(userRoute);
        using var admin = await client.SendAsync(adminRoute);

        var userSeen = (await user.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("headers");
        var adminSeen = (await admin.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("headers");
        Assert.Empty(Values(userSeen, "x-admin-key"));
        Assert.Empty(Values(userSeen, "x-service-key"));
        Assert.Equal(["the-admin-key"], Values(adminSeen, "x-admin-key"));
        Assert.Empty(Values(adminSeen, "x-service-key"));
    }

    [Fact]
    public async Task Clockchain_reads_are_rewritten_and_carry_no_identity_nor_credentials()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats");
        request.Headers.Add("X-API-Key", ApiKeyFormat.Generate());
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + identity.Token(Guid.NewGuid()));
        using var response = await client.SendAsync(request);

        var echo = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("/api/v1/stats", echo.GetProperty("path").GetString());
        Assert.False(echo.GetProperty("headers").TryGetProperty("x-user-id", out _));
        Assert.False(echo.GetProperty("headers").TryGetProperty("x-api-key", out _));
        Assert.False(echo.GetProperty("headers").TryGetProperty("authorization", out _));
    }

    [Fact]
    public async Task Client_failure_injection_never_reaches_a_backend_and_backend_server_headers_never_reach_the_client()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats");
        request.Headers.Add("X-Flash-Fail", "error");
        request.Headers.Add("x_flash_fail", "break_stream");
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("headers");
        Assert.DoesNotContain(headers.EnumerateObject(), h => h.Name.Replace('_', '-') == "x-flash-fail");
        // The stand-in backend is Kestrel, which names itself in Server unless told not to.
        Assert.Empty(response.Headers.Server);
        Assert.False(response.Headers.Contains("Server"));
    }

    [Theory]
    [InlineData("Accept-Language", "\u00e9\u00e8")]
    [InlineData("Idempotency-Key", "\u00fc\u00f1\u00ee")]
    [InlineData("User-Agent", "caf\u00e9")]
    [InlineData("X-Anything", "a\u0001b")]
    public async Task A_header_value_outside_visible_ascii_is_400_naming_it_and_reaches_no_backend(string name, string value)
    {
        var before = backend.Requests;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats");
        request.Headers.TryAddWithoutValidation(name, value);

        using var response = await client.SendAsync(request);

        // The forwarder cannot send such a value on (it was a 502 before, after the edge had done its work).
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("validation_failed", problem.GetProperty("code").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty(name, out _), problem.ToString());
        Assert.Equal(before, backend.Requests);
    }

    public static TheoryData<string, string> Forgeries => new()
    {
        { "alg none", "none" },
        { "alg None", "None" },
        { "HS256 keyed with the RSA public key", "hs256-public" },
        { "empty signature", "empty-signature" },
        { "missing segment", "missing-segment" },
        { "extra segment", "extra-segment" },
        { "bit flipped in the payload", "flip-payload" },
        { "bit flipped in the header", "flip-header" },
    };

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task Forged_tokens_are_401_and_never_reach_the_backend(string _, string forgery)
    {
        var token = identity.Token(Guid.NewGuid());
        var parts = token.Split('.');
        var forged = forgery switch
        {
            "none" or "None" => $"{B64($"{{\"alg\":\"{forgery}\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}}")}.{parts[1]}.",
            "hs256-public" => Hs256WithPublicKey(parts[1]),
            "empty-signature" => $"{parts[0]}.{parts[1]}.",
            "missing-segment" => $"{parts[0]}.{parts[1]}",
            "extra-segment" => $"{token}.{parts[2]}",
            "flip-payload" => $"{parts[0]}.{Flip(parts[1])}.{parts[2]}",
            _ => $"{Flip(parts[0])}.{parts[1]}.{parts[2]}",
        };
        var before = backend.Requests;

        using var response = await client.SendAsync(Get(forged));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("auth.jwt_invalid", await CodeAsync(response));
        Assert.Equal(before, backend.Requests);
    }

    public static TheoryData<string, string> BadClaims => new()
    {
        { "wrong issuer", "auth.jwt_invalid" },
        { "wrong audience", "auth.jwt_invalid" },
        { "expired", "auth.jwt_expired" },
        { "not yet valid", "auth.jwt_invalid" },
        { "not an access token", "auth.jwt_invalid" },
        { "no user", "auth.jwt_invalid" },
    };

    [Theory]
    [MemberData(nameof(BadClaims))]
    public async Task Tokens_with_bad_claims_are_refused(string claim, string code)
    {
        var token = identity.Token(Guid.NewGuid(), d =>
        {
            switch (claim)
            {
                case "wrong issuer": d.Issuer = "http://evil.test/"; break;
                case "wrong audience": d.Audience = "someone-else"; break;
                case "expired":
                    (d.IssuedAt, d.NotBefore, d.Expires) = (DateTime.UtcNow.AddHours(-1), DateTime.UtcNow.AddHours(-1), DateTime.UtcNow.AddMinutes(-5));
                    break;
                case "not yet valid": d.NotBefore = DateTime.UtcNow.AddMinutes(10); d.Expires = DateTime.UtcNow.AddMinutes(20); break;
                case "not an access token": d.TokenType = "JWT"; break;
                default: d.Claims["sub"] = "not-a-user"; break;
            }
        });

        using var response = await client.SendAsync(Get(token));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(code, await CodeAsync(response));
    }

    [Fact]
    public async Task An_unknown_kid_refreshes_the_keys_at_most_once_per_interval_and_a_rotated_key_is_accepted()
    {
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(identity.Token(Guid.NewGuid())))).StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(1.2)); // past the minimum interval since the start-up read
        var fetches = identity.Requests;

        using var stranger = await client.SendAsync(Get(identity.Token(Guid.NewGuid(), kid: "k-unknown")));
        using var strangerAgain = await client.SendAsync(Get(identity.Token(Guid.NewGuid(), kid: "k-unknown")));
        Assert.Equal(HttpStatusCode.Unauthorized, stranger.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, strangerAgain.StatusCode);
        Assert.Equal(fetches + 2, identity.Requests); // one refresh: discovery + JWKS

        identity.Keys["k2"] = StandInIdentity.NewKey("k2");
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        using var rotated = await client.SendAsync(Get(identity.Token(Guid.NewGuid(), kid: "k2")));
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
    }

    [Fact]
    public async Task With_identity_down_tokens_still_validate_against_the_last_keys()
    {
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(identity.Token(Guid.NewGuid())))).StatusCode);
        var fresh = identity.Token(Guid.NewGuid()); // never seen by the edge: its signature is checked now

        await identity.StopAsync();
        using var response = await client.SendAsync(Get(fresh));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Jwt_only_routes_refuse_a_valid_api_key_caller_before_any_proxying()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout");
        request.Headers.Add("X-API-Key", "tp_gw_badchecksum00000000000000000000");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("auth.key_invalid", await CodeAsync(response));
    }

    private static HttpRequestMessage Get(string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        return request;
    }

    private string Hs256WithPublicKey(string payload)
    {
        var header = B64("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}");
        var pem = Encoding.UTF8.GetBytes(identity.Keys["k1"].Rsa.ExportSubjectPublicKeyInfoPem());
        var mac = System.Security.Cryptography.HMACSHA256.HashData(pem, Encoding.ASCII.GetBytes($"{header}.{payload}"));
        return $"{header}.{payload}.{Base64UrlEncoder.Encode(mac)}";
    }

    private static string B64(string json) => Base64UrlEncoder.Encode(json);

    private static string Flip(string segment)
    {
        var chars = segment.ToCharArray();
        chars[5] = chars[5] == 'A' ? 'B' : 'A';
        return new string(chars);
    }

    private static string[] Values(JsonElement headers, string name) =>
        headers.TryGetProperty(name, out var value) ? [.. value.EnumerateArray().Select(v => v.GetString()!)] : [];

    private static async Task<string?> CodeAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString();
}
