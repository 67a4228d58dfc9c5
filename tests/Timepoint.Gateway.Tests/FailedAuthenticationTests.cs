using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Hosting;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// Unknown API keys are limited per client address, so guessing keys cannot turn into a look-up at identity for every
/// guess. The budget is counted in Redis shared with other test classes (their limit is higher and never refuses them),
/// so these tests only ever see it spent sooner, never later.
/// </summary>
public sealed class FailedAuthenticationTests : EdgeHarness
{
    private const int Limit = 5;
    private const int Guesses = 30;

    protected override void Configure(Dictionary<string, string?> settings) =>
        settings["Gateway:RateLimits:UnknownApiKeysPerMinute"] = $"{Limit}";

    [Fact]
    public async Task Guessed_api_keys_are_429_once_the_budget_is_spent_and_identity_is_not_asked_about_each()
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < Guesses; i++)
        {
            using var response = await SendWithApiKeyAsync(ApiKeyFormat.Generate()); // well-formed, so only identity can tell
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

        // Once refused, the address's unknown keys are not looked up until the window ends. A new minute during the loop
        // starts a new budget once: at most twice the budget (and the guess each time that found it spent) reaches identity.
        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests }));
        Assert.InRange(identity.Verifications, 0, 2 * (Limit + 1));
        Assert.True(statuses.Count(s => s == HttpStatusCode.TooManyRequests) >= Guesses - 2 * (Limit + 1), string.Join(", ", statuses));
    }

    [Fact]
    public async Task A_key_the_edge_knows_and_a_jwt_keep_working_from_an_address_that_is_guessing()
    {
        var (key, user) = KnownApiKey();
        using var first = await SendWithApiKeyAsync(key); // its verdict is now known here

        for (var i = 0; i < Guesses; i++)
        {
            using var guess = await SendWithApiKeyAsync(ApiKeyFormat.Generate());
        }

        using var guessing = await SendWithApiKeyAsync(ApiKeyFormat.Generate());
        using var known = await SendWithApiKeyAsync(key);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", identity.Token(user));
        using var jwt = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, guessing.StatusCode);
        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        Assert.Equal(HttpStatusCode.OK, jwt.StatusCode);
    }

    [Fact]
    public async Task Missing_credentials_and_expired_or_forged_tokens_do_not_count()
    {
        var expired = identity.Token(Guid.NewGuid(), d =>
            (d.IssuedAt, d.NotBefore, d.Expires) = (DateTime.UtcNow.AddHours(-1), DateTime.UtcNow.AddHours(-1), DateTime.UtcNow.AddMinutes(-5)));
        var forged = identity.Token(Guid.NewGuid())[..^4] + "AAAA";

        for (var i = 0; i < Guesses; i++)
        {
            foreach (var token in new string?[] { null, expired, forged })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
                if (token is not null)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                }

                using var response = await client.SendAsync(request);

                // Counted, these would be 429 after the fifth (the budget is shared with the other tests: sooner).
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }
        }
    }
}
