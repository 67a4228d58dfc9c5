using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// Anonymous calls are limited per client address. The budget is counted in Redis shared with other test classes (their
/// limit is higher), so this test only ever sees it spent sooner, never later.
/// </summary>
public sealed class AnonymousLimitTests : EdgeHarness
{
    private const int Limit = 5;

    protected override void Configure(Dictionary<string, string?> settings) =>
        settings["Gateway:RateLimits:AnonymousPerMinute"] = $"{Limit}";

    [Fact]
    public async Task Anonymous_calls_beyond_the_budget_are_429_with_retry_after_and_never_reach_the_backend()
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3 * Limit; i++)
        {
            using var response = await client.GetAsync("/api/v1/clockchain/stats");
            statuses.Add(response.StatusCode);
            Assert.Equal($"{Limit}", response.Headers.GetValues("X-RateLimit-Limit").Single());
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.Equal("rate_limited", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
                Assert.Equal("0", response.Headers.GetValues("X-RateLimit-Remaining").Single());
                Assert.InRange(int.Parse(response.Headers.GetValues("Retry-After").Single()), 1, 60);
            }
        }

        // A new minute during the loop starts a new budget once: at most twice the budget gets through.
        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.OK), 0, 2 * Limit);
        Assert.InRange(backend.Requests, 0, 2 * Limit);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
    }
}
