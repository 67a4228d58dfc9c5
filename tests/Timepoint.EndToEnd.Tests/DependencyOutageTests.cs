using System.Net.Http.Json;

namespace Timepoint.EndToEnd.Tests;

/// <summary>
/// A platform of its own (it breaks things) with two gateway replicas: PostgreSQL and Redis outages, a rate limit and
/// API key revocations shared by the replicas.
/// </summary>
public sealed class DependencyOutageTests(DependencyOutageTests.OutageFixture platform) : IClassFixture<DependencyOutageTests.OutageFixture>
{
    /// <summary>Two gateway replicas behind one address, as in a scaled-out deployment.</summary>
    public sealed class OutageFixture : PlatformFixture
    {
        protected override string[] Settings => ["Gateway:Replicas=2"];
    }

    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Stopping_postgres_makes_its_dependents_unhealthy_and_starting_it_heals_them()
    {
        await Execute("postgres", KnownResourceCommands.StopCommand);
        try
        {
            foreach (var resource in new[] { "identity", "credits", "flash" })
            {
                var (_, body) = await platform.WaitForHealthAsync(resource, (s, _) => s == 503, Settle);
                Assert.Equal("unhealthy", body.GetProperty("status").GetString());
                if (resource == "flash")
                {
                    Assert.False(body.GetProperty("database").GetBoolean());
                }
            }
        }
        finally
        {
            await Execute("postgres", KnownResourceCommands.StartCommand);
        }

        foreach (var resource in new[] { "identity", "credits", "flash" })
        {
            await platform.WaitForHealthAsync(resource, (s, _) => s == 200, Settle);
        }
    }

    [Fact]
    public async Task Stopping_redis_makes_identity_unhealthy_and_the_edge_degraded_but_serving()
    {
        await Execute("redis", KnownResourceCommands.StopCommand);
        try
        {
            await platform.WaitForHealthAsync("identity", (s, _) => s == 503, Settle);
            // Rate limits fail open: the edge stays in rotation and says it is degraded.
            await platform.WaitForHealthAsync(
                "gateway", (s, b) => s == 200 && b.GetProperty("status").GetString() == "degraded", Settle);
            var (credits, _) = await platform.GetHealthAsync("credits");
            Assert.Equal(200, credits);
            // ...and keeps serving, with per-replica limits.
            using var proxied = await platform.Gateway.GetAsync("/api/v1/clockchain/stats");
            Assert.Equal(System.Net.HttpStatusCode.OK, proxied.StatusCode);
            Assert.True(proxied.Headers.Contains("X-RateLimit-Remaining"));
        }
        finally
        {
            await Execute("redis", KnownResourceCommands.StartCommand);
        }

        await platform.WaitForHealthAsync("identity", (s, _) => s == 200, Settle);
        await platform.WaitForHealthAsync("gateway", (s, b) => b.GetProperty("status").GetString() == "healthy", Settle);
    }

    [Fact]
    public async Task Two_gateway_replicas_share_one_rate_limit_budget()
    {
        var statuses = await PlatformFixture.InOneRateLimitWindowAsync(async () =>
        {
            var user = await platform.NewUserAsync();
            var statuses = new List<System.Net.HttpStatusCode>();
            for (var i = 0; i < 11; i++)
            {
                // A new connection each time, so the requests spread over both replicas.
                using var client = platform.App.CreateHttpClient("gateway");
                using var response = await client.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate",
                    new { query = $"Replica probe {i}" }));
                statuses.Add(response.StatusCode);
            }

            return statuses;
        });

        Assert.DoesNotContain(System.Net.HttpStatusCode.TooManyRequests, statuses.Take(10));
        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, statuses[10]);
    }

    [Fact]
    public async Task A_revoked_key_is_refused_by_every_gateway_replica_within_5_seconds()
    {
        var user = await platform.NewUserAsync();
        using var created = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/auth/api-keys",
            new { name = "replicas", scopes = new[] { "read" } }));
        var body = await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var key = body.GetProperty("key").GetString()!;
        // New connections spread over both replicas, so both cache a positive verdict.
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, await StatusWithKeyAsync(key));
        }

        using var revoke = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Delete,
            $"/api/v1/auth/api-keys/{body.GetProperty("id").GetString()}"));
        Assert.Equal(System.Net.HttpStatusCode.NoContent, revoke.StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(5));

        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, await StatusWithKeyAsync(key));
        }
    }

    private async Task<System.Net.HttpStatusCode> StatusWithKeyAsync(string key)
    {
        using var client = platform.App.CreateHttpClient("gateway");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Add("X-API-Key", key);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private async Task Execute(string resource, string command)
    {
        var result = await platform.App.ResourceCommands.ExecuteCommandAsync(resource, command);
        Assert.True(result.Success, $"{command} {resource}: {result.Message}");
    }
}
