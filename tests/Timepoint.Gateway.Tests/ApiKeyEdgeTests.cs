using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// API keys at the edge against a stand-in identity: lookups avoided, verdicts cached, revocations heard. Run on one Redis
/// server and on a Redis Cluster (the revocation is published through another connection, as identity does).
/// </summary>
public abstract class ApiKeyEdgeTests : EdgeHarness
{
    [Fact]
    public async Task Malformed_keys_are_refused_without_asking_identity()
    {
        var typo = ApiKeyFormat.Generate()[..^1] + "!";

        using var response = await SendWithApiKeyAsync(typo);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(0, identity.Verifications);
    }

    [Fact]
    public async Task A_valid_key_is_verified_once_then_served_from_cache_and_keeps_working_with_identity_down()
    {
        var (key, user) = KnownApiKey();

        using var first = await SendWithApiKeyAsync(key);
        using var second = await SendWithApiKeyAsync(key);
        var seen = (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("headers");
        await identity.StopAsync();
        using var withIdentityDown = await SendWithApiKeyAsync(key);
        using var unknownWithIdentityDown = await SendWithApiKeyAsync(ApiKeyFormat.Generate());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(1, identity.Verifications);
        Assert.Equal(user.ToString(), seen.GetProperty("x-user-id")[0].GetString());
        Assert.Equal("api_key", seen.GetProperty("x-auth-method")[0].GetString());
        Assert.False(seen.TryGetProperty("x-api-key", out _));
        Assert.Equal(HttpStatusCode.OK, withIdentityDown.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unknownWithIdentityDown.StatusCode); // fails closed
    }

    [Fact]
    public async Task Concurrent_requests_with_a_key_not_yet_cached_ask_identity_once()
    {
        var (key, _) = KnownApiKey();
        identity.VerifyDelay = TimeSpan.FromMilliseconds(500);

        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => SendWithApiKeyAsync(key)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, identity.Verifications);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task A_published_revocation_drops_the_cached_verdict_at_once()
    {
        var (key, _) = KnownApiKey();
        using var before = await SendWithApiKeyAsync(key);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);

        identity.ApiKeys[key] = new { valid = false, reason = "revoked" };
        using var redis = await ConnectionMultiplexer.ConnectAsync(gateway.Settings["ConnectionStrings:redis"]!);
        await redis.GetSubscriber().PublishAsync(RedisChannel.Literal("timepoint:api-keys:revoked"),
            JsonSerializer.Serialize(new { key_hash = ApiKeyFormat.Hash(key), key_id = Guid.NewGuid(), valid_until = (string?)null }));

        var status = HttpStatusCode.OK;
        for (var i = 0; i < 20 && status == HttpStatusCode.OK; i++)
        {
            await Task.Delay(100);
            using var after = await SendWithApiKeyAsync(key);
            status = after.StatusCode;
            if (status != HttpStatusCode.OK)
            {
                Assert.Equal("auth.key_revoked", (await after.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
            }
        }

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task Unknown_and_expired_keys_get_distinct_codes_and_unknown_looks_like_any_wrong_secret()
    {
        var expired = ApiKeyFormat.Generate();
        identity.ApiKeys[expired] = new { valid = false, reason = "expired" };

        using var unknown = await SendWithApiKeyAsync(ApiKeyFormat.Generate());
        using var wrong = await SendWithApiKeyAsync(ApiKeyFormat.Generate());
        using var old = await SendWithApiKeyAsync(expired);

        Assert.Equal("auth.key_invalid", (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal((await unknown.Content.ReadAsStringAsync()).Split("trace_id")[0], (await wrong.Content.ReadAsStringAsync()).Split("trace_id")[0]);
        Assert.Equal("auth.key_revoked", (await old.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }
    [Fact]
    public async Task A_users_jwt_and_api_key_spend_one_tier_budget_and_one_read_budget()
    {
        // Issue 19, defect 6: the tier limit was per key, so a free user got 10 metered calls a minute with the JWT and 10
        // more with each of its keys. Ten metered calls with the JWT (free tier: 10 a minute), then the key's first is 429.
        for (var attempt = 0; ; attempt++)
        {
            var user = Guid.NewGuid();
            var token = identity.Token(user);
            var key = ApiKeyFormat.Generate();
            identity.ApiKeys[key] = new
            {
                valid = true, user_id = user, key_id = Guid.NewGuid(), scopes = new[] { "read", "generate" }, tier = "free",
                valid_until = (string?)null,
            };

            var withJwt = new List<HttpResponseMessage>();
            for (var i = 0; i < 10; i++)
            {
                withJwt.Add(await GenerateAsync(("Authorization", $"Bearer {token}")));
            }

            using var withKey = await GenerateAsync(("X-API-Key", key));
            using var readWithJwt = await client.SendAsync(Read(("Authorization", $"Bearer {token}")));
            using var readWithKey = await client.SendAsync(Read(("X-API-Key", key)));

            var resets = withJwt.Append(withKey).Select(r => r.Headers.GetValues("X-RateLimit-Reset").Single()).Distinct().Count();
            var statuses = withJwt.Select(r => r.StatusCode).ToList();
            withJwt.ForEach(r => r.Dispose());
            if (resets > 1 && attempt == 0)
            {
                continue; // a new minute began in the middle: its budget is fresh, so try once more
            }

            Assert.DoesNotContain(HttpStatusCode.TooManyRequests, statuses);
            Assert.Equal(HttpStatusCode.TooManyRequests, withKey.StatusCode);
            Assert.Equal("0", withKey.Headers.GetValues("X-RateLimit-Remaining").Single());

            Assert.Equal(HttpStatusCode.OK, readWithJwt.StatusCode);
            Assert.Equal(HttpStatusCode.OK, readWithKey.StatusCode);
            if (readWithJwt.Headers.GetValues("X-RateLimit-Reset").Single() == readWithKey.Headers.GetValues("X-RateLimit-Reset").Single())
            {
                Assert.Equal(int.Parse(readWithJwt.Headers.GetValues("X-RateLimit-Remaining").Single()) - 1,
                    int.Parse(readWithKey.Headers.GetValues("X-RateLimit-Remaining").Single()));
            }

            return;
        }
    }

    private Task<HttpResponseMessage> GenerateAsync((string Name, string Value) credential)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync")
        {
            Content = JsonContent.Create(new { query = "The fall of Constantinople, 1453", preset = "balanced" }),
        };
        request.Headers.TryAddWithoutValidation(credential.Name, credential.Value);
        return client.SendAsync(request);
    }

    private static HttpRequestMessage Read((string Name, string Value) credential)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.TryAddWithoutValidation(credential.Name, credential.Value);
        return request;
    }
}

public sealed class ApiKeyEdgeOnServerTests : ApiKeyEdgeTests;

public sealed class ApiKeyEdgeOnClusterTests : ApiKeyEdgeTests
{
    protected override RedisFlavour Redis => RedisFlavour.Cluster;
}
