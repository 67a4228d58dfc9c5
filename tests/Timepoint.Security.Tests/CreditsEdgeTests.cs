using System.Net;
using System.Net.Http.Json;
using System.Text;
using Timepoint.Soak;

namespace Timepoint.Security.Tests;

/// <summary>The credits issue's bad amounts and idempotency cases, sent through the edge as a client (or an operator) would.</summary>
public sealed partial class SecurityTests
{
    public static TheoryData<string, string> BadGrants => new()
    {
        { "zero", "0" }, { "negative", "-5" }, { "fraction", "1.5" }, { "whole fraction", "1.0" }, { "exponent", "1e2" },
        { "beyond int64", "9223372036854775808" }, { "beyond the max grant", "1000000001" }, { "string", "\"10\"" },
        { "boolean", "true" }, { "null", "null" }, { "array", "[10]" }, { "object", "{\"value\":10}" }, { "NaN", "NaN" },
        { "repeated", "10,\"amount\":-10" }, { "missing", "" },
    };

    [Theory]
    [MemberData(nameof(BadGrants))]
    public async Task A_bad_grant_amount_is_refused_and_writes_nothing(string _, string amount)
    {
        var user = await platform.SharedUserAsync("bad grants");
        var json = amount.Length == 0
            ? $"{{\"user_id\":\"{user.Id}\"}}"
            : $"{{\"user_id\":\"{user.Id}\",\"amount\":{amount}}}";

        using var response = await GrantAsync(json);

        Assert.True(response.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest, $"{(int)response.StatusCode}");
        Assert.Equal("validation_failed", await Edge.CodeAsync(response));
        Assert.Equal(50, await Platform.BalanceAsync(platform.Gateway, user));
        Assert.True((await platform.CheckLedgerAsync([user.Id])).Holds);
    }

    [Theory]
    [InlineData("{\"user_id\":\"00000000-0000-0000-0000-000000000000\",\"amount\":10}")]
    [InlineData("{\"user_id\":\"not-a-uuid\",\"amount\":10}")]
    [InlineData("{\"user_id\":\"{0}\",\"amount\":10,\"transaction_type\":\"signup_bonus\"}")]
    [InlineData("{\"user_id\":\"{0}\",\"amount\":10,\"transaction_type\":\"generation\"}")]
    public async Task A_grant_to_nobody_or_of_a_forged_type_is_refused(string template)
    {
        var user = await platform.NewUserAsync();

        using var response = await GrantAsync(template.Replace("{0}", user.Id.ToString(), StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal(50, await Platform.BalanceAsync(platform.Gateway, user));
    }

    [Fact]
    public async Task A_grant_needs_credits_own_admin_key_not_identitys()
    {
        var user = await platform.NewUserAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/credits/admin/grant")
        {
            Content = JsonContent.Create(new { user_id = user.Id, amount = 100 }),
        };
        request.Headers.Add("X-Admin-Key", await platform.ParameterAsync("identity-admin-key"));

        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(50, await Platform.BalanceAsync(platform.Gateway, user));
    }

    [Fact]
    public async Task An_idempotency_key_is_scoped_per_user()
    {
        var first = await platform.NewUserAsync();
        var second = await platform.NewUserAsync();
        var key = $"shared-{Guid.NewGuid():N}";

        using var a = await GenerateAsync(first, key);
        using var b = await GenerateAsync(second, key);

        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.Equal(HttpStatusCode.OK, b.StatusCode);
        Assert.Equal("5", b.Headers.GetValues("X-Credits-Charged").Single());
        Assert.Equal(45, await Platform.BalanceAsync(platform.Gateway, first));
        Assert.Equal(45, await Platform.BalanceAsync(platform.Gateway, second));
    }

    [Fact]
    public async Task A_retry_while_the_first_is_in_flight_is_409_and_a_failed_first_is_refunded_once()
    {
        var user = await platform.NewUserAsync();
        var key = $"inflight-{Guid.NewGuid():N}";

        // The first call hangs in flash until the edge's upstream timeout (12 s here).
        var first = GenerateAsync(user, key, failure: "delay");
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        using var retry = await GenerateAsync(user, key, failure: "delay");
        using var firstResponse = await first;

        Assert.Equal(HttpStatusCode.Conflict, retry.StatusCode);
        Assert.Equal(HttpStatusCode.GatewayTimeout, firstResponse.StatusCode);
        await SecurityFixture.WaitUntilAsync(async () => await Platform.BalanceAsync(platform.Gateway, user) == 50, TimeSpan.FromSeconds(10), "the refund");
        var report = await platform.CheckLedgerAsync([user.Id]);
        Assert.True(report.Holds, report.ToString());
        Assert.Single(await Edge.HistoryAsync(platform.Gateway, user), e => e.GetProperty("type").GetString() == "refund");
    }

    [Fact]
    public async Task Concurrent_metered_calls_never_take_the_balance_below_zero()
    {
        var user = await platform.NewUserAsync();

        // 50 credits, 15 a simulation: at most 3 can be paid for, whatever the interleaving.
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            using var client = platform.NewClient();
            using var response = await client.SendAsync(Platform.As(user, HttpMethod.Post, "/api/v1/conductor/pro/simulate",
                new { template = "board_meeting", prompt = "Race", mode = "pearl", fidelity = 1 }));
            return response.StatusCode;
        }));

        Assert.Equal(3, responses.Count(s => s == HttpStatusCode.OK));
        Assert.All(responses, s => Assert.Contains(s, new[] { HttpStatusCode.OK, HttpStatusCode.PaymentRequired }));
        Assert.Equal(5, await Platform.BalanceAsync(platform.Gateway, user));
        Assert.True((await platform.CheckLedgerAsync([user.Id])).Holds);
    }

    private async Task<HttpResponseMessage> GrantAsync(string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/credits/admin/grant")
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Admin-Key", await platform.ParameterAsync("credits-admin-key"));
        return await platform.Gateway.SendAsync(request);
    }

    private Task<HttpResponseMessage> GenerateAsync(User user, string key, string? failure = null)
    {
        var request = Platform.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync", new { query = "Idempotent probe 1066" });
        request.Headers.Add("Idempotency-Key", key);
        if (failure is not null)
        {
            request.Headers.Add("X-Flash-Fail", failure);
        }

        return platform.NewClient().SendAsync(request);
    }
}
