using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using StackExchange.Redis;
using Timepoint.Gateway.Auth;
using Timepoint.Gateway.Limits;
using Timepoint.ServiceDefaults;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// Every in-memory cache and map at the edge has a bound (docs/security.md, "Memory at the edge"): each is flooded past it
/// through the real edge, with the bound made small, and stays within it and keeps working.
/// </summary>
public sealed class EdgeMemoryBoundsTests : EdgeHarness
{
    private const int Small = 20;

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Gateway:ValidatedTokenCacheSize"] = Small.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Gateway:ApiKeyVerdictCacheSize"] = Small.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Gateway:JwksMinimumRefreshInterval"] = "00:00:00.100";
    }

    private Task<HttpResponseMessage> BalanceAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client.SendAsync(request);
    }

    [Fact]
    public async Task The_validated_token_cache_flooded_past_its_size_stays_within_it_and_every_token_still_works()
    {
        var tokens = Enumerable.Range(0, Small * 5).Select(_ => identity.Token(Guid.NewGuid())).ToList();
        foreach (var token in tokens)
        {
            using var response = await BalanceAsync(token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.InRange(gateway.Services.GetRequiredService<JwtValidator>().Remembered, 1, Small);
        using var first = await BalanceAsync(tokens[0]);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
    }

    [Fact]
    public async Task The_api_key_verdict_cache_flooded_with_known_and_unknown_keys_stays_within_its_size_and_keys_still_work()
    {
        var known = Enumerable.Range(0, Small * 3).Select(_ => KnownApiKey()).ToList();
        foreach (var (key, _) in known)
        {
            using var response = await SendWithApiKeyAsync(key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        for (var i = 0; i < Small * 3; i++)
        {
            using var response = await SendWithApiKeyAsync(ApiKeyFormat.Generate());
            await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "auth.key_invalid");
        }

        var verifier = gateway.Services.GetRequiredService<ApiKeyVerifier>();
        Assert.InRange(verifier.Remembered, 1, Small);
        Assert.Equal(0, verifier.LookupsInFlight);
        using var first = await SendWithApiKeyAsync(known[0].Key);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
    }

    [Fact]
    public async Task A_jwks_with_more_keys_than_the_cap_is_refused_and_the_last_keys_keep_serving()
    {
        var user = Guid.NewGuid();
        using (var before = await BalanceAsync(identity.Token(user)))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        var extra = Enumerable.Range(0, IdentityKeys.MaxSigningKeys).AsParallel().Select(i => StandInIdentity.NewKey($"flood-{i}")).ToList();
        foreach (var key in extra)
        {
            identity.Keys[key.KeyId] = key;
        }

        try
        {
            // A token naming a published but not yet loaded kid makes the edge read the (now too large) JWKS.
            using var unknown = await BalanceAsync(identity.Token(user, kid: extra[0].KeyId));
            await Problem.AssertAsync(unknown, HttpStatusCode.Unauthorized, "auth.jwt_invalid");

            var keys = gateway.Services.GetRequiredService<IdentityKeys>();
            Assert.Equal(["k1"], keys.Current!.Keys.Keys);
            using var after = await BalanceAsync(identity.Token(user));
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        }
        finally
        {
            foreach (var key in extra)
            {
                identity.Keys.Remove(key.KeyId);
            }
        }
    }
}

/// <summary>
/// The revoked-session list's cap: identity listing more than <c>Gateway:Revocations:MaxSessions</c> fails closed (no
/// access token accepted, unhealthy), holds nothing beyond the cap, and recovers once the list is back under it.
/// </summary>
public sealed class RevocationBoundTests : EdgeHarness
{
    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Gateway:Revocations:MaxSessions"] = "50";
        settings["Gateway:Revocations:PollInterval"] = "00:00:00.100";
    }

    private async Task<HttpStatusCode> BalanceAsync(string session)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", identity.Token(Guid.NewGuid(), session: session));
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 100 && !await condition(); i++)
        {
            await Task.Delay(100);
        }

        Assert.True(await condition());
    }

    [Fact]
    public async Task A_revocation_list_beyond_its_cap_fails_closed_holds_nothing_beyond_it_and_recovers_under_it()
    {
        Assert.Equal(HttpStatusCode.OK, await BalanceAsync("kept"));
        var list = gateway.Services.GetRequiredService<SessionRevocationList>();

        var expires = DateTimeOffset.UtcNow.AddMinutes(15);
        for (var i = 0; i < 60; i++)
        {
            identity.RevokedSessions[$"flood-{i}"] = expires;
        }

        await UntilAsync(async () => await BalanceAsync("kept") == HttpStatusCode.ServiceUnavailable);
        Assert.True(list.Overflowing);
        Assert.InRange(list.Count, 0, 50);
        using (var health = await client.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        }

        for (var i = 0; i < 20; i++)
        {
            identity.RevokedSessions.TryRemove($"flood-{i}", out _);
        }

        await UntilAsync(async () => await BalanceAsync("kept") == HttpStatusCode.OK);
        Assert.False(list.Overflowing);
        Assert.Equal(40, list.Count);
        Assert.Equal(HttpStatusCode.Unauthorized, await BalanceAsync("flood-59"));
    }
}

/// <summary>The edge's other maps, flooded directly (their bounds are constants or start-up settings).</summary>
public sealed class MemoryBoundsTests
{
    private static readonly IMeterFactory Meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    [Fact]
    public void Addresses_guessing_api_keys_beyond_the_cap_are_not_remembered_and_the_remembered_ones_stay_refused_until_their_window_ends()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var guessing = new GuessingAddresses(clock, capacity: 100);
        var resetAt = clock.GetUtcNow().ToUnixTimeSeconds() + 30;

        var remembered = Enumerable.Range(0, 1000).Count(i => guessing.Remember($"10.0.{i / 256}.{i % 256}", resetAt));

        Assert.Equal(100, remembered);
        Assert.Equal(100, guessing.Count);
        Assert.NotNull(guessing.Refusal("10.0.0.0", 5));
        Assert.Null(guessing.Refusal("10.0.3.200", 5));

        // Once the windows end there is room again.
        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.True(guessing.Remember("10.9.9.9", clock.GetUtcNow().ToUnixTimeSeconds() + 30));
        Assert.Equal(1, guessing.Count);
        Assert.Null(guessing.Refusal("10.0.0.0", 5));
    }

    [Fact]
    public void The_replay_memory_flooded_past_its_cap_stays_at_it_refuses_at_it_and_has_room_once_signatures_expire()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var replays = new GatewayReplayMemory(1000, clock);
        var expires = clock.GetUtcNow().ToUnixTimeSeconds() + 60;

        var outcomes = Enumerable.Range(0, 5000).AsParallel().Select(i => (Nonce: $"nonce-{i}", Outcome: replays.Remember($"nonce-{i}", expires))).ToList();

        Assert.Equal(1000, outcomes.Count(o => o.Outcome == GatewayReplayMemory.Outcome.New));
        Assert.Equal(4000, outcomes.Count(o => o.Outcome == GatewayReplayMemory.Outcome.Full));
        Assert.Equal(1000, replays.Count);
        Assert.Equal(GatewayReplayMemory.Outcome.Replayed,
            replays.Remember(outcomes.First(o => o.Outcome == GatewayReplayMemory.Outcome.New).Nonce, expires));

        clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(GatewayReplayMemory.Outcome.New, replays.Remember("after", clock.GetUtcNow().ToUnixTimeSeconds() + 60));
        Assert.Equal(1, replays.Count);
    }

    [Fact]
    public async Task Rate_limit_leases_flooded_with_callers_stay_within_their_cap_and_callers_beyond_it_are_still_counted()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(await LocalServers.RedisConnectionStringAsync());
        var limiter = new EdgeRateLimiter(redis, TimeProvider.System, new GatewayMetrics(Meters), NullLogger<EdgeRateLimiter>.Instance)
        {
            MaxLeaseHolders = 50,
        };
        var run = Guid.NewGuid().ToString("N");

        for (var i = 0; i < 500; i++)
        {
            Assert.True((await limiter.HitAsync("read", $"{run}-{i}", 3)).Allowed);
        }

        Assert.InRange(limiter.LeaseHolders, 1, 50);
        var beyond = $"{run}-499";
        Assert.True((await limiter.HitAsync("read", beyond, 3)).Allowed);
        Assert.True((await limiter.HitAsync("read", beyond, 3)).Allowed);
        Assert.False((await limiter.HitAsync("read", beyond, 3)).Allowed);
    }

    [Fact]
    public async Task Without_redis_the_per_replica_counters_stay_within_their_cap_and_callers_beyond_it_share_one_stricter_counter()
    {
        var options = ConfigurationOptions.Parse("127.0.0.1:1");
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 200;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
        var limiter = new EdgeRateLimiter(redis, TimeProvider.System, new GatewayMetrics(Meters), NullLogger<EdgeRateLimiter>.Instance)
        {
            MaxLeaseHolders = 0,
            MaxLocalCounters = 50,
        };

        var allowed = 0;
        for (var i = 0; i < 500; i++)
        {
            allowed += (await limiter.HitAsync("read", $"caller-{i}", 100)).Allowed ? 1 : 0;
        }

        Assert.InRange(limiter.LocalCounters, 50, 51);
        // 50 callers with a counter of their own, and 450 sharing one of 100 a window: no more admitted than that.
        Assert.Equal(50 + 100, allowed);
        Assert.True((await limiter.HitAsync("read", "caller-0", 100)).Allowed);
    }

    [Fact]
    public async Task Group_commit_lanes_flooded_with_keys_are_all_gone_once_their_items_ran()
    {
        var batches = new Batches<int, int, int>(async (_, items) =>
        {
            await Task.Delay(1);
            return items.ToArray();
        });

        var results = await Task.WhenAll(Enumerable.Range(0, 10_000).Select(i => batches.RunAsync(i % 1000, i)));

        Assert.Equal(Enumerable.Range(0, 10_000), results);
        for (var i = 0; i < 50 && batches.Lanes > 0; i++)
        {
            await Task.Delay(20); // a lane is removed just after its last batch answered
        }

        Assert.Equal(0, batches.Lanes);
    }

    [Fact]
    public void A_jwks_of_more_signing_keys_than_the_cap_is_refused()
    {
        var keys = Enumerable.Range(0, IdentityKeys.MaxSigningKeys + 1).AsParallel().AsOrdered().Select(i => StandInIdentity.NewKey($"k{i}")).ToList();
        string Jwks(int count) => JsonSerializer.Serialize(new
        {
            keys = keys.Take(count).Select(k => JsonSerializer.SerializeToElement(JsonWebKeyConverter.ConvertFromRSASecurityKey(
                new RsaSecurityKey(k.Rsa.ExportParameters(false)) { KeyId = k.KeyId }))).ToArray(),
        });

        Assert.Equal(IdentityKeys.MaxSigningKeys, IdentityKeys.SigningKeys(Jwks(IdentityKeys.MaxSigningKeys)).Count);
        Assert.Throws<InvalidDataException>(() => IdentityKeys.SigningKeys(Jwks(IdentityKeys.MaxSigningKeys + 1)));
    }
}
