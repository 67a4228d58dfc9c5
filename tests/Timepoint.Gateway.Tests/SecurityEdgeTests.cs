using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// The parts of issue #10's corpus that need a key the test holds (validly signed tokens with bad claims, a removed key) or
/// an identity that can be switched off; the rest runs against the whole platform in tests/Timepoint.Security.Tests.
/// </summary>
public sealed class SecurityEdgeTests : EdgeHarness
{
    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Gateway:JwksRefreshInterval"] = "00:00:01";
        settings["Gateway:JwksMinimumRefreshInterval"] = "00:00:01";
    }

    public static TheoryData<string, string> BadClaims => new()
    {
        { "issuer without its trailing slash", "auth.jwt_invalid" },
        { "issuer in upper case", "auth.jwt_invalid" },
        { "issuer over https", "auth.jwt_invalid" },
        { "issuer with a path", "auth.jwt_invalid" },
        { "issuer as a suffix", "auth.jwt_invalid" },
        { "no audience", "auth.jwt_invalid" },
        { "only foreign audiences", "auth.jwt_invalid" },
        { "expired beyond the skew", "auth.jwt_expired" },
        { "not valid for another minute", "auth.jwt_invalid" },
        { "no expiry", "auth.jwt_invalid" },
        { "an ID token", "auth.jwt_invalid" },
    };

    [Theory]
    [MemberData(nameof(BadClaims))]
    public async Task A_validly_signed_token_with_bad_claims_is_401_and_never_reaches_the_backend(string claim, string code)
    {
        var now = DateTime.UtcNow;
        var token = identity.Token(Guid.NewGuid(), d =>
        {
            switch (claim)
            {
                case "issuer without its trailing slash": d.Issuer = StandInIdentity.Issuer.TrimEnd('/'); break;
                case "issuer in upper case": d.Issuer = StandInIdentity.Issuer.ToUpperInvariant(); break;
                case "issuer over https": d.Issuer = StandInIdentity.Issuer.Replace("http:", "https:", StringComparison.Ordinal); break;
                case "issuer with a path": d.Issuer = StandInIdentity.Issuer + "tenant/"; break;
                case "issuer as a suffix": d.Issuer = "http://evil.test/" + StandInIdentity.Issuer; break;
                case "no audience": d.Audience = null; break;
                case "only foreign audiences": d.Audience = null; d.Claims["aud"] = new[] { "timepoint-web", "someone-else" }; break;
                case "expired beyond the skew": (d.IssuedAt, d.NotBefore, d.Expires) = (now.AddMinutes(-16), now.AddMinutes(-16), now.AddSeconds(-45)); break;
                case "not valid for another minute": (d.NotBefore, d.Expires) = (now.AddSeconds(60), now.AddMinutes(15)); break;
                case "no expiry": d.Expires = null; break;
                default:
                    // What an OpenID Connect ID token looks like: typ JWT, the client as audience, a nonce.
                    (d.TokenType, d.Audience) = ("JWT", "timepoint-web");
                    d.Claims["nonce"] = "n-0S6_WzA2Mj";
                    break;
            }
        });
        var before = backend.Requests;

        using var response = await client.SendAsync(Get(token));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, await CodeAsync(response));
        Assert.Equal(before, backend.Requests);
    }

    [Theory]
    [InlineData("signature ==")]
    [InlineData("signature =")]
    [InlineData("header =")]
    [InlineData("signature with non-zero trailing bits")]
    [InlineData("payload with non-zero trailing bits")]
    [InlineData("signature with a space")]
    public async Task A_token_in_any_spelling_but_its_own_is_401_even_after_the_real_one_was_accepted(string spelling)
    {
        var token = identity.Token(Guid.NewGuid());
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(token))).StatusCode); // remembered by the edge from here on
        var parts = token.Split('.');
        var variant = spelling switch
        {
            "signature ==" => token + "==",
            "signature =" => token + "=",
            "header =" => $"{parts[0]}=.{parts[1]}.{parts[2]}",
            "signature with non-zero trailing bits" => $"{parts[0]}.{parts[1]}.{PadToUnusedBits(parts[2])}",
            "payload with non-zero trailing bits" => $"{parts[0]}.{PadToUnusedBits(parts[1])}.{parts[2]}",
            _ => $"{parts[0]}.{parts[1]}.{parts[2][..10]} {parts[2][10..]}",
        };
        Assert.NotEqual(token, variant);
        var before = backend.Requests;

        using var response = await client.SendAsync(Get(variant));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("auth.jwt_invalid", await CodeAsync(response));
        Assert.Equal(before, backend.Requests);
    }

    /// <summary>
    /// The same segment with the low bit of its last character flipped: where the length leaves unused bits (an RS256
    /// signature's 342 characters do) a lenient decoder reads the same bytes. Otherwise one character more.
    /// </summary>
    private static string PadToUnusedBits(string segment) => segment.Length % 4 is 2 or 3 ? segment[..^1] + Flip(segment[^1]) : segment + "A";

    private static char Flip(char c)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        return alphabet[alphabet.IndexOf(c, StringComparison.Ordinal) ^ 1];
    }

    [Fact]
    public async Task A_token_expired_within_the_skew_is_still_accepted()
    {
        // The boundary of the case above: 30 s of skew, 10 s past exp.
        var now = DateTime.UtcNow;
        var token = identity.Token(Guid.NewGuid(), d => (d.IssuedAt, d.NotBefore, d.Expires) = (now.AddMinutes(-15), now.AddMinutes(-15), now.AddSeconds(-10)));

        using var response = await client.SendAsync(Get(token));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_token_signed_by_a_removed_key_is_refused_even_after_the_edge_accepted_it_once()
    {
        identity.Keys["k2"] = StandInIdentity.NewKey("k2");
        var seen = identity.Token(Guid.NewGuid(), kid: "k1");
        // An attacker holding a leaked key picks a far expiry; the edge remembers tokens it validated until their exp.
        var leaked = identity.Token(Guid.NewGuid(), d => d.Expires = DateTime.UtcNow.AddYears(1), kid: "k1");
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // the edge has read k2 too
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(seen))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(leaked))).StatusCode);
        var unseen = identity.Token(Guid.NewGuid(), kid: "k1");

        identity.Keys.Remove("k1");
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // a scheduled refresh has read the JWKS without k1
        var before = backend.Requests;

        foreach (var token in new[] { seen, leaked, unseen })
        {
            using var response = await client.SendAsync(Get(token));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("auth.jwt_invalid", await CodeAsync(response));
        }

        Assert.Equal(before, backend.Requests);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(identity.Token(Guid.NewGuid(), kid: "k2")))).StatusCode);
    }

    [Fact]
    public async Task With_identity_stopped_sign_in_is_503_with_retry_after_and_tokens_keep_working()
    {
        var token = identity.Token(Guid.NewGuid());
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(identity.Token(Guid.NewGuid())))).StatusCode);

        await identity.StopAsync();
        using var demo = await client.PostAsync("/api/v1/auth/demo", null);
        using var refresh = await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = "opaque" });
        using var read = await client.SendAsync(Get(token));

        foreach (var signIn in new[] { demo, refresh })
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, signIn.StatusCode);
            Assert.Equal("upstream_unavailable", await CodeAsync(signIn));
            Assert.NotNull(signIn.Headers.RetryAfter);
        }

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task With_the_backends_stopped_every_route_answers_503_with_retry_after()
    {
        var token = identity.Token(Guid.NewGuid());
        await backend.StopAsync(); // credits, flash, clockchain and pro all live there
        var requests = new (HttpMethod Method, string Path, string? Body)[]
        {
            (HttpMethod.Get, "/api/v1/clockchain/stats", null),
            (HttpMethod.Get, "/api/v1/credits/balance", null),
            (HttpMethod.Get, "/api/v1/timepoints", null),
            (HttpMethod.Post, "/api/v1/timepoints/generate/sync", "{\"query\":\"Moon landing\"}"),
            (HttpMethod.Post, "/api/v1/timepoints/generate/stream", "{\"query\":\"Moon landing\"}"),
        };

        foreach (var (method, path, body) in requests)
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
            request.Content = body is null ? null : new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            using var response = await client.SendAsync(request);

            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{method} {path}: {(int)response.StatusCode}");
            Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, $"{method} {path}: no Retry-After");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        await identity.StopAsync();
        using var signIn = await client.PostAsync("/api/v1/auth/demo", null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, signIn.StatusCode);
        Assert.True(signIn.Headers.RetryAfter?.Delta > TimeSpan.Zero);
    }

    private static HttpRequestMessage Get(string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        return request;
    }

    private static async Task<string?> CodeAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString();
}
