using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.EndToEnd.Tests;

/// <summary>Credits charged at the edge, refunded on failure, never twice for one Idempotency-Key.</summary>
[Collection(PlatformCollection.Name)]
public sealed class MeteringTests(PlatformFixture platform)
{
    [Fact]
    public async Task A_new_user_has_the_signup_bonus_and_a_ledger_that_sums_to_the_balance()
    {
        var user = await platform.NewUserAsync();

        using var generated = await Generate(user, "Storming of the Bastille 1789");
        var balance = await BalanceAsync(user);
        var history = await HistoryAsync(user);

        Assert.Equal(HttpStatusCode.OK, generated.StatusCode);
        Assert.Equal(45, balance);
        Assert.Equal(balance, history.Sum(e => e.GetProperty("amount").GetInt64()));
        Assert.Contains(history, e => e.GetProperty("type").GetString() == "signup_bonus");
    }

    [Fact]
    public async Task Insufficient_credits_is_402_with_required_and_available()
    {
        var user = await platform.NewUserAsync();
        for (var i = 0; i < 3; i++)
        {
            using var paid = await Simulate(user);
            Assert.Equal(HttpStatusCode.OK, paid.StatusCode);
        }

        using var refused = await Simulate(user);

        Assert.Equal(HttpStatusCode.PaymentRequired, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("auth.insufficient_credits", problem.GetProperty("code").GetString());
        Assert.Equal(15, problem.GetProperty("credits_required").GetInt64());
        Assert.Equal(5, problem.GetProperty("credits_available").GetInt64());
        Assert.Equal(5, await BalanceAsync(user));
    }

    [Theory]
    [InlineData("error", "/api/v1/timepoints/generate/sync")]
    [InlineData("break_stream", "/api/v1/timepoints/generate/stream")]
    [InlineData("delay", "/api/v1/timepoints/generate/sync")]
    public async Task A_failed_generation_is_refunded_exactly_once(string failure, string path)
    {
        var user = await platform.NewUserAsync();
        using var request = PlatformFixture.As(user, HttpMethod.Post, path, new { query = "The eruption of Vesuvius in 79" });
        request.Headers.Add("X-Flash-Fail", failure);

        try
        {
            using var response = await platform.Gateway.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        }
        catch (HttpRequestException)
        {
            // A stream cut off mid-way may surface as a broken response: what a client sees too.
        }

        var history = await WaitForAsync(user, h => h.Any(e => e.GetProperty("type").GetString() == "refund"));
        Assert.Single(history, e => e.GetProperty("type").GetString() == "refund");
        Assert.Equal(50, await BalanceAsync(user));
    }

    [Theory]
    [InlineData(36)]
    [InlineData(255)] // the longest the contract allows
    public async Task A_retry_with_the_same_idempotency_key_is_not_charged_again_and_replays_the_first_answer(int keyLength)
    {
        var user = await platform.NewUserAsync();
        var key = Guid.NewGuid().ToString().PadRight(keyLength, 'k');

        using var first = await Generate(user, "Coronation of Charlemagne 800", key);
        using var retry = await Generate(user, "Coronation of Charlemagne 800", key);
        using var otherBody = await Generate(user, "Something else entirely", key);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal("0", retry.Headers.GetValues("X-Credits-Charged").Single());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, otherBody.StatusCode);
        Assert.Equal(45, await BalanceAsync(user));
    }

    [Fact]
    public async Task A_retry_of_a_refunded_failure_replays_it_with_the_balance_after_the_refund()
    {
        var user = await platform.NewUserAsync();
        var key = Guid.NewGuid().ToString();
        using var failing = PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync", new { query = "The burning of Rome 64" });
        failing.Headers.Add("Idempotency-Key", key);
        failing.Headers.Add("X-Flash-Fail", "error");

        using var first = await platform.Gateway.SendAsync(failing);
        using var retry = await Generate(user, "The burning of Rome 64", key);

        Assert.Equal(HttpStatusCode.InternalServerError, first.StatusCode);
        Assert.Equal("50", first.Headers.GetValues("X-Balance-After").Single());
        Assert.Equal(HttpStatusCode.InternalServerError, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal("50", retry.Headers.GetValues("X-Balance-After").Single());
        Assert.Equal(50, await BalanceAsync(user));
    }

    [Fact]
    public async Task A_retried_stream_with_the_same_idempotency_key_replays_the_first_stream_and_is_not_charged_again()
    {
        var user = await platform.NewUserAsync();
        var key = Guid.NewGuid().ToString();

        using var first = await platform.Gateway.SendAsync(Stream(user, key));
        var firstEvents = await first.Content.ReadAsStringAsync();
        using var retry = await platform.Gateway.SendAsync(Stream(user, key));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("done", firstEvents, StringComparison.Ordinal);
        Assert.Equal("5", first.Headers.GetValues("X-Credits-Charged").Single());
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal("text/event-stream", retry.Content.Headers.ContentType?.MediaType);
        Assert.Equal(firstEvents, await retry.Content.ReadAsStringAsync());
        Assert.Equal("0", retry.Headers.GetValues("X-Credits-Charged").Single());
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(45, await BalanceAsync(user));
    }

    [Fact]
    public async Task A_retry_of_a_broken_stream_is_told_it_was_refunded_and_is_not_charged()
    {
        var user = await platform.NewUserAsync();
        var key = Guid.NewGuid().ToString();
        using var broken = Stream(user, key);
        broken.Headers.Add("X-Flash-Fail", "break_stream");
        try
        {
            using var response = await platform.Gateway.SendAsync(broken, HttpCompletionOption.ResponseContentRead);
        }
        catch (HttpRequestException)
        {
            // A stream cut off mid-way may surface as a broken response: what a client sees too.
        }

        await WaitForAsync(user, h => h.Any(e => e.GetProperty("type").GetString() == "refund"));
        using var retry = await platform.Gateway.SendAsync(Stream(user, key));

        Assert.Equal(HttpStatusCode.Conflict, retry.StatusCode);
        Assert.Contains("refunded", (await retry.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(50, await BalanceAsync(user));
    }

    [Fact]
    public async Task A_stream_read_until_its_last_step_then_reset_is_charged_and_not_refunded()
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var user = await platform.NewUserAsync();
            using (var gone = new CancellationTokenSource())
            {
                var response = await platform.Gateway.SendAsync(Stream(user, Guid.NewGuid().ToString()), HttpCompletionOption.ResponseHeadersRead, gone.Token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(gone.Token));
                while (await reader.ReadLineAsync(gone.Token) is { } line && !(line.StartsWith("data:", StringComparison.Ordinal)
                    && line.Contains("\"step\":\"ImageGen\"", StringComparison.Ordinal)))
                {
                }

                // The last step's content is in hand; the client drops the connection before done.
                gone.Cancel();
                response.Dispose();
            }

            // Settled by what flash sent: its done, after it stored the timepoint. A refund came ~2 s later before the fix.
            var history = await WaitForAsync(user, h => h.Any(e => e.GetProperty("type").GetString() == "refund"));
            Assert.DoesNotContain(history, e => e.GetProperty("type").GetString() == "refund");
            Assert.Contains(history, e => e.GetProperty("type").GetString() == "generation");
            Assert.Equal(45, await BalanceAsync(user));
        }
    }

    [Fact]
    public async Task Twenty_concurrent_retries_of_one_idempotency_key_charge_once()
    {
        var user = await platform.NewUserAsync();
        var key = Guid.NewGuid().ToString();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Generate(user, "Treaty of Westphalia 1648", key)));

        // The free tier allows 10 metered calls a minute, so some of the 20 are turned away before credits see them.
        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.Conflict, HttpStatusCode.TooManyRequests }));
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Equal(45, await BalanceAsync(user));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Theory]
    [InlineData("{\"query\":\"Battle of Hastings 1066\",\"preset\":\"ultra\"}", HttpStatusCode.UnprocessableEntity)]
    [InlineData("{\"query\":", HttpStatusCode.BadRequest)]
    public async Task Bad_generate_requests_are_refused_before_anything_is_charged(string json, HttpStatusCode expected)
    {
        var user = await platform.NewUserAsync();
        using var request = PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync");
        request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");

        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("validation_failed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(50, await BalanceAsync(user));
    }

    [Theory]
    [InlineData("""{"query":"Battle of Hastings 1066","preset":"hd"}""")]
    [InlineData("""{"query":"Battle of Hastings 1066","Preset":"hd"}""")]
    [InlineData("""{"query":"Battle of Hastings 1066","PRESET":" HD "}""")]
    [InlineData("""{"Preset":"hd","query":"Battle of Hastings 1066","generate_image":false}""")]
    public async Task A_generate_request_is_charged_for_the_preset_flash_generates(string json)
    {
        var user = await platform.NewUserAsync();
        using var request = PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync");
        request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");

        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hd", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("preset_used").GetString());
        Assert.Equal("10", response.Headers.GetValues("X-Credits-Charged").Single());
        Assert.Equal(40, await BalanceAsync(user));
    }

    [Theory]
    [InlineData("""{"query":"Battle of Hastings 1066","preset":"balanced","Preset":"hd"}""")]
    [InlineData("""{"query":"Battle of Hastings 1066","preset":"hd","preset":"balanced"}""")]
    [InlineData("""{"query":"Battle of Hastings 1066","preset":5}""")]
    public async Task A_generate_request_whose_preset_could_be_read_two_ways_is_422_and_charges_nothing(string json)
    {
        var user = await platform.NewUserAsync();
        using var request = PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync");
        request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");

        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("validation_failed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(50, await BalanceAsync(user));
    }

    [Fact]
    public async Task An_idempotency_key_over_255_characters_is_422()
    {
        var user = await platform.NewUserAsync();

        using var response = await Generate(user, "Founding of Rome 753 BC", new string('k', 256));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal(50, await BalanceAsync(user));
    }

    private Task<HttpResponseMessage> Generate(TokenPair user, string query, string? idempotencyKey = null)
    {
        var request = PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync", new { query });
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return platform.Gateway.SendAsync(request);
    }

    private static HttpRequestMessage Stream(TokenPair user, string idempotencyKey)
    {
        var request = PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/stream", new { query = "The first flight at Kitty Hawk 1903" });
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return request;
    }

    private Task<HttpResponseMessage> Simulate(TokenPair user) =>
        platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/conductor/pro/simulate",
            new { template = "board_meeting", prompt = "Should we ship?", mode = "pearl", fidelity = 2 }));

    private async Task<long> BalanceAsync(TokenPair user)
    {
        using var response = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Get, "/api/v1/credits/balance"));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("balance").GetInt64();
    }

    private async Task<List<JsonElement>> HistoryAsync(TokenPair user)
    {
        using var response = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Get, "/api/v1/credits/history?limit=100"));
        response.EnsureSuccessStatusCode();
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()];
    }

    private async Task<List<JsonElement>> WaitForAsync(TokenPair user, Func<List<JsonElement>, bool> done)
    {
        for (var i = 0; ; i++)
        {
            var history = await HistoryAsync(user);
            if (done(history) || i == 50)
            {
                return history;
            }

            await Task.Delay(200);
        }
    }
}
