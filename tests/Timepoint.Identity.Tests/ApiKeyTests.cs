using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using StackExchange.Redis;
using Timepoint.Identity.Data;

namespace Timepoint.Identity.Tests;

/// <summary>API keys at identity, on one Redis server and on a Redis Cluster (revocations are published to the gateways).</summary>
public abstract class ApiKeyTests(IdentityFactory factory)
{
    private const string Keys = "/api/v1/auth/api-keys";
    private const string Verify = "/internal/identity/api-keys/verify";
    private const string RevokedChannel = "timepoint:api-keys:revoked";

    [Fact]
    public async Task Create_shows_the_secret_once_and_only_its_hash_is_stored()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);

        var (status, created) = await SendAsync(client, HttpMethod.Post, Keys, user,
            new { name = "CI pipeline", scopes = new[] { "generate", "write", "read" } });

        Assert.Equal(HttpStatusCode.Created, status);
        var secret = created.GetProperty("key").GetString()!;
        Assert.True(ApiKeyFormat.IsWellFormed(secret));
        Assert.Equal(ApiKeyFormat.DisplayPrefix(secret), created.GetProperty("prefix").GetString());
        Assert.Equal(["read", "write", "generate"], Strings(created.GetProperty("scopes")));
        Assert.Equal("CI pipeline", created.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, created.GetProperty("expires_at").ValueKind);
        Assert.Equal(["created_at", "credit_limit", "expires_at", "id", "key", "name", "prefix", "rate_limit_per_minute", "scopes"],
            created.EnumerateObject().Select(p => p.Name).Order());

        using var list = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, Keys).Signed(factory.GatewaySecret, user));
        var listed = await list.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Equal("no-store", list.Headers.CacheControl?.ToString());
        var item = Assert.Single(JsonDocument.Parse(listed).RootElement.EnumerateArray());
        Assert.Equal(["created_at", "credit_limit", "credit_remaining", "expires_at", "id", "last_used_at", "name", "prefix",
                "rate_limit_per_minute", "revoked_at", "scopes", "valid_until"],
            item.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(created.GetProperty("id").GetGuid(), item.GetProperty("id").GetGuid());
        Assert.Equal(created.GetProperty("created_at").GetDateTimeOffset(), item.GetProperty("created_at").GetDateTimeOffset());
        Assert.DoesNotContain(secret, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiKeyFormat.Hash(secret), listed, StringComparison.Ordinal);

        // The account export lists the key without its secret: AccountExportTests (end to end, as it needs credits and flash).

        var stored = await factory.WithDbAsync(db => db.ApiKeys.AsNoTracking().SingleAsync(k => k.UserId == user));
        Assert.Equal(ApiKeyFormat.Hash(secret), stored.Hash);
        var random = secret[ApiKeyFormat.Prefix.Length..];
        var rowsWithSecret = await factory.WithDbAsync(db => db.Database
            .SqlQuery<int>($"SELECT count(*)::int AS \"Value\" FROM api_keys k WHERE row_to_json(k)::text LIKE {"%" + random[4..] + "%"}")
            .SingleAsync());
        Assert.Equal(0, rowsWithSecret);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"name\":\"\"}")]
    [InlineData("{\"name\":\"   \"}")]
    [InlineData("{\"name\":42}")]
    [InlineData("{\"name\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}")]
    [InlineData("{\"name\":\"k\",\"scopes\":[\"read\",\"delete\"]}")]
    [InlineData("{\"name\":\"k\",\"scopes\":[\"admin\"]}")]
    [InlineData("{\"name\":\"k\",\"scopes\":[\"read\",\"admin\"]}")]
    [InlineData("{\"name\":\"k\",\"scopes\":[]}")]
    [InlineData("{\"name\":\"k\",\"scopes\":\"read\"}")]
    [InlineData("{\"name\":\"k\",\"expires_at\":\"2001-01-01T00:00:00Z\"}")]
    [InlineData("{\"name\":\"k\",\"expires_at\":\"2999-01-01T00:00:00Z\"}")]
    [InlineData("{\"name\":\"k\",\"expires_at\":\"next tuesday\"}")]
    [InlineData("{\"name\":\"k\",\"user_id\":\"00000000-0000-0000-0000-000000000001\"}")]
    [InlineData("{\"name\":\"k\",\"key\":\"tp_gw_chosenbytheclient\"}")]
    [InlineData("[\"name\"]")]
    [InlineData("{\"name\":")]
    [InlineData("")]
    public async Task Create_refuses_bad_input_and_writes_nothing(string json)
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);

        using var request = new HttpRequestMessage(HttpMethod.Post, Keys)
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        }.Signed(factory.GatewaySecret, user);
        using var response = await client.SendAsync(request);

        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.BadRequest, HttpStatusCode.UnprocessableEntity });
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("validation_failed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(0, await factory.WithDbAsync(db => db.ApiKeys.CountAsync(k => k.UserId == user)));
    }

    [Fact]
    public async Task Create_refuses_a_body_that_is_not_json()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);

        using var request = new HttpRequestMessage(HttpMethod.Post, Keys)
        {
            Content = new StringContent("name=k", Encoding.UTF8, "application/x-www-form-urlencoded"),
        }.Signed(factory.GatewaySecret, user);
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("validation_failed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(0, await factory.WithDbAsync(db => db.ApiKeys.CountAsync(k => k.UserId == user)));
    }

    [Fact]
    public async Task A_user_holds_at_most_25_active_keys()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var first = await CreateKeyAsync(client, user, new { name = "key 0" });
        for (var i = 1; i < 25; i++)
        {
            await CreateKeyAsync(client, user, new { name = $"key {i}" });
        }

        var (over, problem) = await SendAsync(client, HttpMethod.Post, Keys, user, new { name = "one too many" });
        await SendAsync(client, HttpMethod.Delete, $"{Keys}/{first.GetProperty("id").GetGuid()}", user);
        var (again, _) = await SendAsync(client, HttpMethod.Post, Keys, user, new { name = "in place of key 0" });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, over);
        Assert.Equal("validation_failed", problem.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Created, again);
    }

    [Fact]
    public async Task Keys_in_a_reroll_grace_period_count_toward_the_cap()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var keys = new List<JsonElement>();
        for (var i = 0; i < 25; i++)
        {
            keys.Add(await CreateKeyAsync(client, user, new { name = $"key {i}" }));
        }

        // At the cap a reroll with a grace period would leave 26 working keys: refused, and nothing changes.
        var (first, problem) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{keys[0].GetProperty("id").GetGuid()}/reroll", user,
            new { grace_seconds = 604_800 });
        var (second, _) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{keys[1].GetProperty("id").GetGuid()}/reroll", user,
            new { grace_seconds = 604_800 });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, first);
        Assert.Equal("validation_failed", problem.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, second);
        Assert.Equal(25, await factory.WithDbAsync(db => db.ApiKeys.CountAsync(k => k.UserId == user)));
        Assert.True((await VerifyAsync(client, keys[0].GetProperty("key").GetString())).Body.GetProperty("valid").GetBoolean());

        // Without a grace period the old key stops at once: the count stays at 25, so that reroll is allowed.
        var (now, rerolled) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{keys[2].GetProperty("id").GetGuid()}/reroll", user,
            new { grace_seconds = 0 });
        Assert.Equal(HttpStatusCode.OK, now);
        Assert.False((await VerifyAsync(client, keys[2].GetProperty("key").GetString())).Body.GetProperty("valid").GetBoolean());
        Assert.True((await VerifyAsync(client, rerolled.GetProperty("key").GetString())).Body.GetProperty("valid").GetBoolean());

        // Below the cap, a key in its grace period still takes a place: one revoked, one rerolled with grace, then no new key.
        await SendAsync(client, HttpMethod.Delete, $"{Keys}/{keys[3].GetProperty("id").GetGuid()}", user);
        var (graced, _) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{keys[4].GetProperty("id").GetGuid()}/reroll", user,
            new { grace_seconds = 604_800 });
        var (created, _) = await SendAsync(client, HttpMethod.Post, Keys, user, new { name = "would be the 26th working key" });
        Assert.Equal(HttpStatusCode.OK, graced);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, created);

        var stored = await factory.WithDbAsync(db => db.ApiKeys.AsNoTracking().Where(k => k.UserId == user).ToListAsync());
        var at = DateTimeOffset.UtcNow;
        Assert.Equal(25, stored.Count(k => k.RevokedAt == null && (k.ValidUntil == null || k.ValidUntil > at)));
    }

    [Fact]
    public async Task Concurrent_creates_never_exceed_the_cap()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);

        var statuses = await Task.WhenAll(Enumerable.Range(0, 30)
            .Select(i => SendAsync(client, HttpMethod.Post, Keys, user, new { name = $"racer {i}" })));

        Assert.Equal(25, statuses.Count(s => s.Status == HttpStatusCode.Created));
        Assert.Equal(5, statuses.Count(s => s.Status == HttpStatusCode.UnprocessableEntity));
        Assert.Equal(25, await factory.WithDbAsync(db => db.ApiKeys.CountAsync(k => k.UserId == user)));
    }

    [Fact]
    public async Task Concurrent_rerolls_of_one_key_make_one_new_key()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var key = await CreateKeyAsync(client, user, new { name = "rerolled twice at once" });
        var id = key.GetProperty("id").GetGuid();

        var statuses = await Task.WhenAll(Enumerable.Range(0, 5)
            .Select(_ => SendAsync(client, HttpMethod.Post, $"{Keys}/{id}/reroll", user, new { grace_seconds = 60 })));

        Assert.Equal(1, statuses.Count(s => s.Status == HttpStatusCode.OK));
        Assert.Equal(4, statuses.Count(s => s.Status == HttpStatusCode.Conflict));
        Assert.Equal(2, await factory.WithDbAsync(db => db.ApiKeys.CountAsync(k => k.UserId == user)));
    }

    [Fact]
    public async Task A_valid_key_is_verified_with_its_user_scopes_and_tier()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var expiresAt = DateTimeOffset.UtcNow.AddDays(30);
        var created = await CreateKeyAsync(client, user, new { name = "bot", scopes = new[] { "read", "generate" }, expires_at = expiresAt });
        var plain = await CreateKeyAsync(client, user, new { name = "default scopes" });

        var (status, verdict) = await VerifyAsync(client, created.GetProperty("key").GetString());
        var (_, plainVerdict) = await VerifyAsync(client, plain.GetProperty("key").GetString());

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["credit_limit", "key_id", "rate_limit_per_minute", "scopes", "tier", "user_id", "valid", "valid_until"],
            verdict.EnumerateObject().Select(p => p.Name).Order());
        Assert.True(verdict.GetProperty("valid").GetBoolean());
        Assert.Equal(user, verdict.GetProperty("user_id").GetGuid());
        Assert.Equal(created.GetProperty("id").GetGuid(), verdict.GetProperty("key_id").GetGuid());
        Assert.Equal(["read", "generate"], Strings(verdict.GetProperty("scopes")));
        Assert.Equal("free", verdict.GetProperty("tier").GetString());
        Assert.Equal(created.GetProperty("expires_at").GetDateTimeOffset(), verdict.GetProperty("valid_until").GetDateTimeOffset());
        Assert.True(Math.Abs((verdict.GetProperty("valid_until").GetDateTimeOffset() - expiresAt).TotalMilliseconds) < 1);
        Assert.Equal(["read"], Strings(plainVerdict.GetProperty("scopes")));
        Assert.Equal(JsonValueKind.Null, plainVerdict.GetProperty("valid_until").ValueKind);
    }

    [Fact]
    public async Task A_revoked_key_is_refused_at_once_and_revoking_again_is_harmless()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var created = await CreateKeyAsync(client, user, new { name = "soon gone" });
        var id = created.GetProperty("id").GetGuid();

        var (first, _) = await SendAsync(client, HttpMethod.Delete, $"{Keys}/{id}", user);
        var (second, _) = await SendAsync(client, HttpMethod.Delete, $"{Keys}/{id}", user);
        var (_, verdict) = await VerifyAsync(client, created.GetProperty("key").GetString());
        var (_, list) = await SendAsync(client, HttpMethod.Get, Keys, user);

        Assert.Equal(HttpStatusCode.NoContent, first);
        Assert.Equal(HttpStatusCode.NoContent, second);
        Assert.Equal(Refused("revoked"), verdict.ToString());
        Assert.NotEqual(JsonValueKind.Null, Assert.Single(list.EnumerateArray()).GetProperty("revoked_at").ValueKind);
    }

    [Fact]
    public async Task An_expired_key_is_refused_as_expired()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var created = await CreateKeyAsync(client, user, new { name = "short-lived", expires_at = DateTimeOffset.UtcNow.AddHours(1) });
        var id = created.GetProperty("id").GetGuid();

        await factory.WithDbAsync(db => db.ApiKeys.Where(k => k.Id == id)
            .ExecuteUpdateAsync(set => set.SetProperty(k => k.ExpiresAt, DateTimeOffset.UtcNow.AddSeconds(-1))));
        var (_, verdict) = await VerifyAsync(client, created.GetProperty("key").GetString());
        var (reroll, _) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{id}/reroll", user, new { });

        Assert.Equal(Refused("expired"), verdict.ToString());
        Assert.Equal(HttpStatusCode.Conflict, reroll);
    }

    [Fact]
    public async Task Another_users_key_cannot_be_listed_revoked_or_rerolled_and_keeps_working()
    {
        using var client = factory.CreateClient();
        var alice = await NewUserAsync(client);
        var bob = await NewUserAsync(client);
        var key = await CreateKeyAsync(client, alice, new { name = "alice's" });
        var id = key.GetProperty("id").GetGuid();

        var (_, bobsList) = await SendAsync(client, HttpMethod.Get, Keys, bob);
        var (revoke, revokeProblem) = await SendAsync(client, HttpMethod.Delete, $"{Keys}/{id}", bob);
        var (reroll, rerollProblem) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{id}/reroll", bob, new { grace_seconds = 0 });
        var (unknown, unknownProblem) = await SendAsync(client, HttpMethod.Delete, $"{Keys}/{Guid.NewGuid()}", bob);
        var (notAnId, _) = await SendAsync(client, HttpMethod.Delete, $"{Keys}/not-an-id", bob);
        var (_, verdict) = await VerifyAsync(client, key.GetProperty("key").GetString());

        Assert.Empty(bobsList.EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, revoke);
        Assert.Equal(HttpStatusCode.NotFound, reroll);
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.Equal(HttpStatusCode.NotFound, notAnId);
        // Another user's key and a key that does not exist get the same answer.
        Assert.Equal(unknownProblem.GetProperty("detail").GetString(), revokeProblem.GetProperty("detail").GetString());
        Assert.Equal(unknownProblem.GetProperty("detail").GetString(), rerollProblem.GetProperty("detail").GetString());
        Assert.True(verdict.GetProperty("valid").GetBoolean());
        Assert.Null(await factory.WithDbAsync(db => db.ApiKeys.Where(k => k.Id == id).Select(k => k.ValidUntil).SingleAsync()));
    }

    [Fact]
    public async Task Keys_are_managed_only_by_a_signed_in_user_not_with_an_api_key()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var key = await CreateKeyAsync(client, user, new { name = "mine" });
        var id = key.GetProperty("id").GetGuid();

        var statuses = new List<HttpStatusCode>
        {
            (await SendAsync(client, HttpMethod.Post, Keys, user, new { name = "by key" }, "api_key")).Status,
            (await SendAsync(client, HttpMethod.Get, Keys, user, authMethod: "api_key")).Status,
            (await SendAsync(client, HttpMethod.Delete, $"{Keys}/{id}", user, authMethod: "api_key")).Status,
            (await SendAsync(client, HttpMethod.Post, $"{Keys}/{id}/reroll", user, new { }, "api_key")).Status,
        };
        using var anonymous = await client.GetAsync(Keys);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Forbidden, s));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.True((await VerifyAsync(client, key.GetProperty("key").GetString())).Body.GetProperty("valid").GetBoolean());
        Assert.Equal(1, await factory.WithDbAsync(db => db.ApiKeys.CountAsync(k => k.UserId == user)));
    }

    [Fact]
    public async Task Reroll_gives_a_new_secret_and_the_old_one_works_until_the_grace_ends()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var old = await CreateKeyAsync(client, user,
            new { name = "deploy", scopes = new[] { "generate" }, expires_at = DateTimeOffset.UtcNow.AddDays(7) });
        var oldId = old.GetProperty("id").GetGuid();

        var (status, rerolled) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{oldId}/reroll", user, new { grace_seconds = 1 });

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["created_at", "expires_at", "id", "key", "name", "prefix", "previous_key_id", "previous_valid_until", "scopes"],
            rerolled.EnumerateObject().Select(p => p.Name).Order());
        var newKey = rerolled.GetProperty("key").GetString()!;
        Assert.NotEqual(old.GetProperty("key").GetString(), newKey);
        Assert.NotEqual(oldId, rerolled.GetProperty("id").GetGuid());
        Assert.Equal(oldId, rerolled.GetProperty("previous_key_id").GetGuid());
        Assert.Equal("deploy", rerolled.GetProperty("name").GetString());
        Assert.Equal(["generate"], Strings(rerolled.GetProperty("scopes")));
        Assert.Equal(old.GetProperty("expires_at").GetDateTimeOffset(), rerolled.GetProperty("expires_at").GetDateTimeOffset());
        var validUntil = rerolled.GetProperty("previous_valid_until").GetDateTimeOffset();
        Assert.InRange(validUntil - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(-1), TimeSpan.FromSeconds(1.5));

        var (_, oldDuringGrace) = await VerifyAsync(client, old.GetProperty("key").GetString());
        if (DateTimeOffset.UtcNow < validUntil)
        {
            Assert.True(oldDuringGrace.GetProperty("valid").GetBoolean());
            Assert.Equal(validUntil, oldDuringGrace.GetProperty("valid_until").GetDateTimeOffset());
        }

        var (again, _) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{oldId}/reroll", user, new { });
        await Task.Delay(validUntil - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(100));
        var (_, oldAfterGrace) = await VerifyAsync(client, old.GetProperty("key").GetString());
        var (_, fresh) = await VerifyAsync(client, newKey);
        var (_, list) = await SendAsync(client, HttpMethod.Get, Keys, user);

        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Equal(Refused("revoked"), oldAfterGrace.ToString());
        Assert.True(fresh.GetProperty("valid").GetBoolean());
        Assert.Equal(rerolled.GetProperty("id").GetGuid(), fresh.GetProperty("key_id").GetGuid());
        Assert.Equal(["generate"], Strings(fresh.GetProperty("scopes")));
        Assert.Equal(2, list.GetArrayLength());
        Assert.Equal(validUntil, list.EnumerateArray().Single(k => k.GetProperty("id").GetGuid() == oldId).GetProperty("valid_until").GetDateTimeOffset());
    }

    [Fact]
    public async Task Reroll_grace_defaults_to_a_day_and_is_bounded()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var key = await CreateKeyAsync(client, user, new { name = "default grace" });
        var id = key.GetProperty("id").GetGuid();
        var revoked = await CreateKeyAsync(client, user, new { name = "revoked" });
        await SendAsync(client, HttpMethod.Delete, $"{Keys}/{revoked.GetProperty("id").GetGuid()}", user);

        var (tooLong, problem) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{id}/reroll", user, new { grace_seconds = 604_801 });
        var (negative, _) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{id}/reroll", user, new { grace_seconds = -1 });
        var (unknownMember, _) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{id}/reroll", user, new { grace = 5 });
        var (ofRevoked, conflict) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{revoked.GetProperty("id").GetGuid()}/reroll", user, new { });
        using var noBody = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, $"{Keys}/{id}/reroll").Signed(factory.GatewaySecret, user));
        var rerolled = await noBody.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooLong);
        Assert.Equal("validation_failed", problem.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, negative);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, unknownMember);
        Assert.Equal(HttpStatusCode.Conflict, ofRevoked);
        Assert.Equal("conflict", conflict.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, noBody.StatusCode);
        Assert.InRange(rerolled.GetProperty("previous_valid_until").GetDateTimeOffset() - DateTimeOffset.UtcNow,
            TimeSpan.FromHours(24) - TimeSpan.FromMinutes(1), TimeSpan.FromHours(24));
    }

    [Theory]
    [InlineData("")]
    [InlineData("tp_gw_")]
    [InlineData("sk_live_0123456789abcdefghijklmnopqrstuv")]
    [InlineData("not a key at all")]
    public async Task Malformed_keys_are_unknown(string key)
    {
        using var client = factory.CreateClient();

        var (status, verdict) = await VerifyAsync(client, key);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Refused("unknown"), verdict.ToString());
    }

    [Fact]
    public async Task A_key_with_a_bad_checksum_is_unknown_without_a_database_lookup()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var good = ApiKeyFormat.Generate();
        var mistyped = good[..^1] + (good[^1] == 'A' ? 'B' : 'A');
        Assert.False(ApiKeyFormat.IsWellFormed(mistyped));
        // Plant a row under the mistyped key's hash: a lookup would find it and call the key valid.
        await factory.WithDbAsync(async db =>
        {
            db.ApiKeys.Add(new ApiKey
            {
                UserId = user, Name = "planted", Hash = ApiKeyFormat.Hash(mistyped), Prefix = ApiKeyFormat.DisplayPrefix(mistyped),
                Scopes = ["read"], CreatedAt = DateTimeOffset.UtcNow,
            });
            return await db.SaveChangesAsync();
        });

        var (_, verdict) = await VerifyAsync(client, mistyped);
        var (_, unknown) = await VerifyAsync(client, good);

        Assert.Equal(Refused("unknown"), verdict.ToString());
        Assert.Equal(Refused("unknown"), unknown.ToString());
    }

    [Fact]
    public async Task Verification_needs_identitys_service_key_and_a_key_member()
    {
        using var client = factory.CreateClient();
        var key = ApiKeyFormat.Generate();

        var (missing, missingProblem) = await VerifyAsync(client, key, serviceKey: null);
        var (wrong, _) = await VerifyAsync(client, key, serviceKey: factory.AdminKey);
        using var noKeyMember = new HttpRequestMessage(HttpMethod.Post, Verify) { Content = JsonContent.Create(new { api_key = key }) };
        noKeyMember.Headers.Add("X-Service-Key", factory.ServiceKey);
        using var noKeyResponse = await client.SendAsync(noKeyMember);

        Assert.Equal(HttpStatusCode.Unauthorized, missing);
        Assert.Equal("auth.missing", missingProblem.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, wrong);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, noKeyResponse.StatusCode);
    }

    [Fact]
    public async Task Verification_records_the_last_use()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var key = await CreateKeyAsync(client, user, new { name = "used" });
        var id = key.GetProperty("id").GetGuid();

        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await VerifyAsync(client, key.GetProperty("key").GetString());
        var lastUsed = await EventuallyAsync(() => factory.WithDbAsync(db => db.ApiKeys.Where(k => k.Id == id).Select(k => k.LastUsedAt).SingleAsync()));

        Assert.InRange(lastUsed!.Value, before, DateTimeOffset.UtcNow.AddSeconds(1));
        var (_, list) = await SendAsync(client, HttpMethod.Get, Keys, user);
        Assert.Equal(lastUsed.Value, Assert.Single(list.EnumerateArray()).GetProperty("last_used_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Revoke_and_reroll_publish_the_key_hash_to_the_gateways()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var revoked = await CreateKeyAsync(client, user, new { name = "revoke me" });
        var rerolled = await CreateKeyAsync(client, user, new { name = "reroll me" });
        await using var redis = await ConnectionMultiplexer.ConnectAsync(factory.Settings["ConnectionStrings:redis"]!);
        var messages = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(RevokedChannel));

        await SendAsync(client, HttpMethod.Delete, $"{Keys}/{revoked.GetProperty("id").GetGuid()}", user);
        var (_, reroll) = await SendAsync(client, HttpMethod.Post, $"{Keys}/{rerolled.GetProperty("id").GetGuid()}/reroll", user,
            new { grace_seconds = 60 });

        var onRevoke = await NextMessageAsync(messages, revoked.GetProperty("id").GetGuid());
        Assert.Equal(["key_hash", "key_id", "valid_until"], onRevoke.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(ApiKeyFormat.Hash(revoked.GetProperty("key").GetString()!), onRevoke.GetProperty("key_hash").GetString());
        Assert.Equal(JsonValueKind.Null, onRevoke.GetProperty("valid_until").ValueKind);
        var onReroll = await NextMessageAsync(messages, rerolled.GetProperty("id").GetGuid());
        Assert.Equal(ApiKeyFormat.Hash(rerolled.GetProperty("key").GetString()!), onReroll.GetProperty("key_hash").GetString());
        Assert.Equal(reroll.GetProperty("previous_valid_until").GetDateTimeOffset(), onReroll.GetProperty("valid_until").GetDateTimeOffset());
    }

    [Fact]
    public async Task Deleting_the_account_publishes_and_removes_its_keys()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var first = await CreateKeyAsync(client, user, new { name = "one" });
        var second = await CreateKeyAsync(client, user, new { name = "two" });
        await using var redis = await ConnectionMultiplexer.ConnectAsync(factory.Settings["ConnectionStrings:redis"]!);
        var messages = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(RevokedChannel));

        var (deleted, _) = await SendAsync(client, HttpMethod.Delete, "/api/v1/auth/me", user);

        Assert.Equal(HttpStatusCode.NoContent, deleted);
        var published = await MessagesAboutAsync(messages, first.GetProperty("id").GetGuid(), second.GetProperty("id").GetGuid());
        Assert.Equal(new[] { first, second }.Select(k => ApiKeyFormat.Hash(k.GetProperty("key").GetString()!)),
            published.Select(m => m.GetProperty("key_hash").GetString()));
        Assert.All(published, m => Assert.Equal(JsonValueKind.Null, m.GetProperty("valid_until").ValueKind));
        Assert.Equal(0, await factory.WithDbAsync(db => db.ApiKeys.CountAsync(k => k.UserId == user)));
        Assert.False((await VerifyAsync(client, first.GetProperty("key").GetString())).Body.GetProperty("valid").GetBoolean());
    }

    [Fact]
    public async Task Disabling_the_user_publishes_and_refuses_their_keys_as_revoked()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var key = await CreateKeyAsync(client, user, new { name = "of a user soon disabled" });
        await using var redis = await ConnectionMultiplexer.ConnectAsync(factory.Settings["ConnectionStrings:redis"]!);
        var messages = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(RevokedChannel));

        await factory.WithDbAsync(async db =>
        {
            (await db.Users.SingleAsync(u => u.Id == user)).Disabled = true;
            return await db.SaveChangesAsync();
        });

        var message = await NextMessageAsync(messages, key.GetProperty("id").GetGuid());
        Assert.Equal(ApiKeyFormat.Hash(key.GetProperty("key").GetString()!), message.GetProperty("key_hash").GetString());
        Assert.Equal(Refused("revoked"), (await VerifyAsync(client, key.GetProperty("key").GetString())).Body.ToString());
    }

    private async Task<Guid> NewUserAsync(HttpClient client) =>
        Guid.Parse(new JsonWebToken((await factory.DevTokenAsync(client)).AccessToken).Subject);

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpClient client, HttpMethod method, string path, Guid user,
        object? body = null, string authMethod = "jwt")
    {
        using var request = new HttpRequestMessage(method, path).Signed(factory.GatewaySecret, user, authMethod);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<JsonElement> CreateKeyAsync(HttpClient client, Guid user, object body)
    {
        var (status, created) = await SendAsync(client, HttpMethod.Post, Keys, user, body);
        Assert.Equal(HttpStatusCode.Created, status);
        return created;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> VerifyAsync(HttpClient client, string? key, string? serviceKey = "")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Verify) { Content = JsonContent.Create(new { key }) };
        if (serviceKey is not null)
        {
            request.Headers.Add("X-Service-Key", serviceKey.Length == 0 ? factory.ServiceKey : serviceKey);
        }

        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static string Refused(string reason) => $"{{\"valid\":false,\"reason\":\"{reason}\"}}";

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    /// <summary>The next message on the channel about this key; other tests publish on the same channel.</summary>
    private static async Task<JsonElement> NextMessageAsync(ChannelMessageQueue messages, Guid keyId) =>
        (await MessagesAboutAsync(messages, keyId))[0];

    /// <summary>
    /// The next message about each of these keys, in the order of the keys asked for: they may be published in any
    /// order, and other tests publish on the same channel.
    /// </summary>
    private static async Task<JsonElement[]> MessagesAboutAsync(ChannelMessageQueue messages, params Guid[] keyIds)
    {
        var found = new Dictionary<Guid, JsonElement>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (found.Count < keyIds.Length)
        {
            var message = JsonDocument.Parse((string)(await messages.ReadAsync(timeout.Token)).Message!).RootElement;
            var keyId = message.GetProperty("key_id").GetGuid();
            if (keyIds.Contains(keyId))
            {
                found.TryAdd(keyId, message);
            }
        }

        return [.. keyIds.Select(id => found[id])];
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> read)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            if (await read() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, "The value did not appear within 5 s.");
            await Task.Delay(50);
        }
    }
}

public sealed class ApiKeyOnServerTests(IdentityFactory factory) : ApiKeyTests(factory), IClassFixture<IdentityFactory>;

public sealed class ApiKeyOnClusterTests(ClusterIdentityFactory factory) : ApiKeyTests(factory), IClassFixture<ClusterIdentityFactory>;
