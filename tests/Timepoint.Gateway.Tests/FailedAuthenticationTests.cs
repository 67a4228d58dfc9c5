using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Hosting;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// Credentials that do not check out are limited per client address, so guessing API keys cannot turn into a look-up
/// at identity for every guess. The budget is counted in Redis shared with other test classes (their limit is higher
/// and never refuses them), so these tests only ever see it spent sooner, never later.
/// </summary>
public sealed class FailedAuthenticationTests : EdgeHarness
{
    private const int Limit = 5;
    private const int Guesses = 30;

    protected override void Configure(Dictionary<string, string?> settings) =>
        settings["Gateway:RateLimits:FailedAuthenticationsPerMinute"] = $"{Limit}";

    [Fact]
    public async Task Guessed_api_keys_are_429_once_the_budget_is_spent_and_identity_is_not_asked_about_each()
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < Guesses; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
            request.Headers.Add("X-API-Key", ApiKeyFormat.Generate()); // well-formed, so only identity can tell
            using var response = await client.SendAsync(request);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Equal("rate_limited", problem.GetProperty("code").GetString());
                Assert.Equal($"{Limit}", response.Headers.GetValues("X-RateLimit-Limit").Single());
                Assert.Equal("0", response.Headers.GetValues("X-RateLimit-Remaining").Single());
                Assert.InRange(int.Parse(response.Headers.GetValues("Retry-After").Single()), 1, 60);
            }
        }

        // A new minute during the loop starts a new budget once: at most twice the budget (and the guess each time that
        // found it spent) reaches identity.
        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests }));
        Assert.InRange(identity.Verifications, 0, 2 * (Limit + 1));
        Assert.True(statuses.Count(s => s == HttpStatusCode.TooManyRequests) >= Guesses - 2 * (Limit + 1), string.Join(", ", statuses));
    }

    [Fact]
    public async Task Missing_credentials_and_expired_tokens_do_not_count()
    {
        var expired = identity.Token(Guid.NewGuid(), d =>
            (d.IssuedAt, d.NotBefore, d.Expires) = (DateTime.UtcNow.AddHours(-1), DateTime.UtcNow.AddHours(-1), DateTime.UtcNow.AddMinutes(-5)));

        for (var i = 0; i < Guesses; i++)
        {
            using var missing = await client.GetAsync("/api/v1/credits/balance");
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", expired);
            using var late = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, late.StatusCode);
            Assert.Equal("auth.jwt_expired", (await late.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        }
    }
}
