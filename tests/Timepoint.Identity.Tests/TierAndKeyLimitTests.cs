using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using StackExchange.Redis;

namespace Timepoint.Identity.Tests;

/// <summary>
/// Running the API as a product, at identity: an operator sets a user's tier (read by the edge with the revoked sessions),
/// and a user gives each API key its own rate limit and credit cap.
/// </summary>
public sealed class TierAndKeyLimitTests(IdentityFactory factory) : IClassFixture<IdentityFactory>
{
    private const string Keys = "/api/v1/auth/api-keys";

    [Fact]
    public async Task A_new_tier_is_in_the_admin_view_the_edges_list_new_tokens_and_key_verdicts()
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        var user = Subject(pair);
        var (_, key) = await SendAsync(client, HttpMethod.Post, Keys, user, new { name = "k" });
        var before = await ListAsync(client, null);

        using var patch = await PatchAsync(client, user, """{"tier":"pro"}""");
        var view = await patch.Content.ReadFromJsonAsync<JsonElement>();
        var since = await ListAsync(client, before.GetProperty("cursor").GetString());
        var fresh = await factory.DevTokenAsync(client, await factory.WithDbAsync(db => db.Users.Where(u => u.Id == user).Select(u => u.Email!).SingleAsync()));
        var verdict = await VerifyAsync(client, key.GetProperty("key").GetString()!);

        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal("pro", view.GetProperty("tier").GetString());
        var change = Assert.Single(since.GetProperty("tiers").EnumerateArray(), t => t.GetProperty("user_id").GetGuid() == user);
        Assert.Equal("pro", change.GetProperty("tier").GetString());
        Assert.InRange(change.GetProperty("expires_at").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(15), DateTimeOffset.UtcNow.AddMinutes(17));
        Assert.Equal("pro", new JsonWebToken(fresh.AccessToken).GetClaim("tier").Value);
        Assert.Equal("pro", verdict.GetProperty("tier").GetString());
        Assert.DoesNotContain(before.GetProperty("tiers").EnumerateArray(), t => t.GetProperty("user_id").GetGuid() == user);
    }

    [Theory]
    [InlineData("""{"tier":"gold"}""", "tier")]
    [InlineData("""{"tier":"PRO"}""", "tier")]
    [InlineData("""{"tier":5}""", "tier")]
    [InlineData("""{"tier":null}""", "tier")]
    [InlineData("""{"tier":"pro","tier":"enterprise"}""", "tier")]
    [InlineData("""{"tier":"pro","credits":100}""", "credits")]
    public async Task A_bad_tier_is_422_naming_the_field_and_changes_nothing(string body, string field)
    {
        using var client = factory.CreateClient();
        var user = Subject(await factory.DevTokenAsync(client));

        using var response = await PatchAsync(client, user, body);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
        Assert.Equal(("free", (DateTimeOffset?)null), await factory.WithDbAsync(async db =>
            await db.Users.Where(u => u.Id == user).Select(u => new ValueTuple<string, DateTimeOffset?>(u.Tier, u.TierChangedAt)).SingleAsync()));
    }

    [Fact]
    public async Task Setting_the_tier_of_an_unknown_user_is_404()
    {
        using var client = factory.CreateClient();
        using var response = await PatchAsync(client, Guid.NewGuid(), """{"tier":"pro"}""");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task A_keys_limits_are_set_at_creation_verified_listed_and_changed_by_patch()
    {
        using var client = factory.CreateClient();
        var user = Subject(await factory.DevTokenAsync(client));
        await using var redis = await ConnectionMultiplexer.ConnectAsync(factory.Settings["ConnectionStrings:redis"]!);
        var messages = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal("timepoint:api-keys:revoked"));

        var (created, key) = await SendAsync(client, HttpMethod.Post, Keys, user,
            new { name = "capped", rate_limit_per_minute = 20, credit_limit = new { amount = 100, period = "day" } });
        var id = key.GetProperty("id").GetGuid();
        var verdict = await VerifyAsync(client, key.GetProperty("key").GetString()!);
        var (_, list) = await SendAsync(client, HttpMethod.Get, Keys, user);
        var (patched, changed) = await SendAsync(client, HttpMethod.Patch, $"{Keys}/{id}", user,
            new { rate_limit_per_minute = (int?)null, credit_limit = new { amount = 7, period = "total" } });
        var published = await NextMessageAsync(messages, id);
        var after = await VerifyAsync(client, key.GetProperty("key").GetString()!);

        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal(20, key.GetProperty("rate_limit_per_minute").GetInt32());
        Assert.Equal(20, verdict.GetProperty("rate_limit_per_minute").GetInt32());
        Assert.Equal(100, verdict.GetProperty("credit_limit").GetProperty("amount").GetInt64());
        Assert.Equal("day", verdict.GetProperty("credit_limit").GetProperty("period").GetString());
        var listed = Assert.Single(list.EnumerateArray());
        Assert.Equal(20, listed.GetProperty("rate_limit_per_minute").GetInt32());
        Assert.Equal(100, listed.GetProperty("credit_limit").GetProperty("amount").GetInt64());
        Assert.True(listed.TryGetProperty("credit_remaining", out _)); // null here: this identity has no credits to ask
        Assert.Equal(HttpStatusCode.OK, patched);
        Assert.Equal(JsonValueKind.Null, changed.GetProperty("rate_limit_per_minute").ValueKind);
        Assert.Equal(7, changed.GetProperty("credit_limit").GetProperty("amount").GetInt64());
        Assert.Equal(ApiKeyFormat.Hash(key.GetProperty("key").GetString()!), published.GetProperty("key_hash").GetString());
        Assert.NotEqual(JsonValueKind.Null, published.GetProperty("valid_until").ValueKind); // dropped from caches, still working
        Assert.Equal(JsonValueKind.Null, after.GetProperty("rate_limit_per_minute").ValueKind);
        Assert.Equal("total", after.GetProperty("credit_limit").GetProperty("period").GetString());
        Assert.True(after.GetProperty("valid").GetBoolean());
    }

    [Theory]
    [InlineData("""{"rate_limit_per_minute":0}""", "rate_limit_per_minute")]
    [InlineData("""{"rate_limit_per_minute":-1}""", "rate_limit_per_minute")]
    [InlineData("""{"rate_limit_per_minute":301}""", "rate_limit_per_minute")]
    [InlineData("""{"rate_limit_per_minute":99999999999}""", "rate_limit_per_minute")]
    [InlineData("""{"rate_limit_per_minute":2.5}""", "rate_limit_per_minute")]
    [InlineData("""{"rate_limit_per_minute":"10"}""", "rate_limit_per_minute")]
    [InlineData("""{"credit_limit":{"amount":0,"period":"day"}}""", "credit_limit.amount")]
    [InlineData("""{"credit_limit":{"amount":-5,"period":"day"}}""", "credit_limit.amount")]
    [InlineData("""{"credit_limit":{"amount":10000000000,"period":"day"}}""", "credit_limit.amount")]
    [InlineData("""{"credit_limit":{"amount":10,"period":"week"}}""", "credit_limit.period")]
    [InlineData("""{"credit_limit":{"amount":10}}""", "credit_limit.period")]
    [InlineData("""{"credit_limit":{"period":"day"}}""", "credit_limit.amount")]
    [InlineData("""{"credit_limit":{"amount":10,"period":"day","rollover":true}}""", "credit_limit.rollover")]
    [InlineData("""{"credit_limit":100}""", "credit_limit")]
    [InlineData("""{"name":"renamed"}""", "name")]
    public async Task Bad_limits_are_422_naming_the_field_and_change_nothing(string body, string field)
    {
        using var client = factory.CreateClient();
        var user = Subject(await factory.DevTokenAsync(client));
        var (_, key) = await SendAsync(client, HttpMethod.Post, Keys, user, new { name = "k", rate_limit_per_minute = 5 });
        var id = key.GetProperty("id").GetGuid();

        var (patchStatus, patchProblem) = await SendRawAsync(client, HttpMethod.Patch, $"{Keys}/{id}", user, body);
        var (createStatus, createProblem) = field == "name" ? (HttpStatusCode.UnprocessableEntity, patchProblem)
            : await SendRawAsync(client, HttpMethod.Post, Keys, user, body.Insert(1, "\"name\":\"new\","));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, patchStatus);
        Assert.True(patchProblem.GetProperty("errors").TryGetProperty(field, out _), patchProblem.ToString());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, createStatus);
        Assert.True(createProblem.GetProperty("errors").TryGetProperty(field, out _), createProblem.ToString());
        var stored = await factory.WithDbAsync(db => db.ApiKeys.Where(k => k.UserId == user).ToListAsync());
        var only = Assert.Single(stored);
        Assert.Equal(("k", 5, (long?)null), (only.Name, only.RateLimitPerMinute, only.CreditLimit));
    }

    [Fact]
    public async Task Another_users_key_or_an_unknown_one_is_404_for_limits_and_usage()
    {
        using var client = factory.CreateClient();
        var owner = Subject(await factory.DevTokenAsync(client));
        var other = Subject(await factory.DevTokenAsync(client));
        var (_, key) = await SendAsync(client, HttpMethod.Post, Keys, owner, new { name = "mine" });
        var id = key.GetProperty("id").GetGuid();

        var (patchOther, patchProblem) = await SendAsync(client, HttpMethod.Patch, $"{Keys}/{id}", other, new { rate_limit_per_minute = 1 });
        var (patchUnknown, _) = await SendAsync(client, HttpMethod.Patch, $"{Keys}/{Guid.NewGuid()}", owner, new { rate_limit_per_minute = 1 });
        var (patchGarbage, _) = await SendAsync(client, HttpMethod.Patch, $"{Keys}/not-an-id", owner, new { rate_limit_per_minute = 1 });
        var (usageOther, usageProblem) = await SendAsync(client, HttpMethod.Get, $"{Keys}/{id}/usage", other);
        var (usageUnknown, _) = await SendAsync(client, HttpMethod.Get, $"{Keys}/{Guid.NewGuid()}/usage", owner);

        Assert.Equal(HttpStatusCode.NotFound, patchOther);
        Assert.Equal(HttpStatusCode.NotFound, patchUnknown);
        Assert.Equal(HttpStatusCode.NotFound, patchGarbage);
        Assert.Equal(HttpStatusCode.NotFound, usageOther);
        Assert.Equal(HttpStatusCode.NotFound, usageUnknown);
        Assert.Equal("not_found", patchProblem.GetProperty("code").GetString());
        Assert.Equal(patchProblem.GetProperty("detail").GetString(), usageProblem.GetProperty("detail").GetString());
        Assert.Null(await factory.WithDbAsync(db => db.ApiKeys.Where(k => k.Id == id).Select(k => k.RateLimitPerMinute).SingleAsync()));
    }

    [Theory]
    [InlineData("from=2026-13-01", "from")]
    [InlineData("to=tomorrow", "to")]
    [InlineData("from=2026-03-02&to=2026-03-01", "from")]
    [InlineData("from=2026-01-01&to=2026-04-03", "to")]
    public async Task Bad_usage_dates_are_422_naming_the_field(string query, string field)
    {
        using var client = factory.CreateClient();
        var user = Subject(await factory.DevTokenAsync(client));
        var (_, key) = await SendAsync(client, HttpMethod.Post, Keys, user, new { name = "k" });

        var (status, problem) = await SendAsync(client, HttpMethod.Get, $"{Keys}/{key.GetProperty("id").GetGuid()}/usage?{query}", user);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task A_revoked_keys_limits_cannot_change()
    {
        using var client = factory.CreateClient();
        var user = Subject(await factory.DevTokenAsync(client));
        var (_, key) = await SendAsync(client, HttpMethod.Post, Keys, user, new { name = "k" });
        var id = key.GetProperty("id").GetGuid();
        await SendAsync(client, HttpMethod.Delete, $"{Keys}/{id}", user);

        var (status, _) = await SendAsync(client, HttpMethod.Patch, $"{Keys}/{id}", user, new { rate_limit_per_minute = 1 });

        Assert.Equal(HttpStatusCode.Conflict, status);
    }

    private static Guid Subject(TokenPairDto pair) => Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);

    private Task<HttpResponseMessage> PatchAsync(HttpClient client, Guid user, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/users/admin/{user}")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Admin-Key", factory.AdminKey);
        return client.SendAsync(request);
    }

    private async Task<JsonElement> ListAsync(HttpClient client, string? since)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get,
            "/internal/identity/sessions/revoked" + (since is null ? "" : $"?since={Uri.EscapeDataString(since)}"));
        request.Headers.Add("X-Service-Key", factory.ServiceKey);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement> VerifyAsync(HttpClient client, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/internal/identity/api-keys/verify") { Content = JsonContent.Create(new { key }) };
        request.Headers.Add("X-Service-Key", factory.ServiceKey);
        using var response = await client.SendAsync(request);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpClient client, HttpMethod method, string path, Guid user,
        object? body = null) =>
        SendRawAsync(client, method, path, user, body is null ? null : JsonSerializer.Serialize(body));

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendRawAsync(HttpClient client, HttpMethod method, string path, Guid user,
        string? body)
    {
        using var request = new HttpRequestMessage(method, path).Signed(factory.GatewaySecret, user);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static async Task<JsonElement> NextMessageAsync(ChannelMessageQueue messages, Guid keyId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (true)
        {
            var message = JsonDocument.Parse((string)(await messages.ReadAsync(timeout.Token)).Message!).RootElement.Clone();
            if (message.GetProperty("key_id").GetGuid() == keyId)
            {
                return message;
            }
        }
    }
}
