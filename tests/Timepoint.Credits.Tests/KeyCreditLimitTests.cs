using System.Net;
using System.Text.Json;

namespace Timepoint.Credits.Tests;

/// <summary>An API key's credit cap, checked by credits in the reservation's own transaction.</summary>
public sealed class KeyCreditLimitTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    [Fact]
    public async Task A_hundred_concurrent_reserves_on_a_key_with_20_credits_of_cap_charge_exactly_4_at_cost_5()
    {
        var user = await app.NewUser();
        var key = Guid.NewGuid();

        var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => ReserveWithKey(user, key, 20, "day")));
        var charged = answers.Count(a => a.Status == HttpStatusCode.OK);
        var refused = answers.Where(a => a.Status == HttpStatusCode.PaymentRequired).ToList();

        Assert.Equal(4, charged);
        Assert.Equal(96, refused.Count);
        Assert.All(refused, r =>
        {
            Assert.Equal("auth.key_credit_limit", r.Body.GetProperty("code").GetString());
            Assert.Equal(5, r.Body.GetProperty("credits_required").GetInt64());
            Assert.Equal(0, r.Body.GetProperty("key_credits_remaining").GetInt64());
        });
        var facts = await app.Facts(user);
        Assert.Equal(30, facts.Balance);
        Assert.Equal(facts.Balance, facts.LedgerSum);
        Assert.Equal(4, facts.Reservations);
        Assert.Equal(4, await CountAsync("SELECT count(*) FROM ledger WHERE api_key_id = $1 AND amount < 0", key));
        Assert.Equal(4, await CountAsync("SELECT count(*) FROM reservations WHERE api_key_id = $1", key));
    }

    [Fact]
    public async Task A_refund_gives_the_cap_back()
    {
        var user = await app.NewUser();
        var key = Guid.NewGuid();
        var first = await ReserveWithKey(user, key, 10, "total");
        Assert.Equal(HttpStatusCode.OK, (await ReserveWithKey(user, key, 10, "total")).Status);
        var over = await ReserveWithKey(user, key, 10, "total");
        Assert.Equal(HttpStatusCode.PaymentRequired, over.Status);

        using var refund = await app.Service(HttpMethod.Post,
            $"/internal/credits/reservations/{first.Body.GetProperty("reservation_id").GetGuid()}/refund", new { reason = "test" });
        await CreditsApp.Ok(refund);
        var again = await ReserveWithKey(user, key, 10, "total");

        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM ledger WHERE api_key_id = $1 AND type = 'refund'", key));
        var facts = await app.Facts(user);
        Assert.Equal(40, facts.Balance);
        Assert.Equal(facts.Balance, facts.LedgerSum);
    }

    [Fact]
    public async Task The_refusal_says_what_is_left_of_the_cap_and_other_keys_and_tokens_are_not_capped()
    {
        var user = await app.NewUser();
        var key = Guid.NewGuid();
        await ReserveWithKey(user, key, 12, "month");
        await ReserveWithKey(user, key, 12, "month");

        var over = await ReserveWithKey(user, key, 12, "month");
        var otherKey = await ReserveWithKey(user, Guid.NewGuid(), 12, "month");
        var token = await app.ReserveOk(user, "generate_balanced");

        Assert.Equal(HttpStatusCode.PaymentRequired, over.Status);
        Assert.Equal(2, over.Body.GetProperty("key_credits_remaining").GetInt64());
        Assert.Equal(HttpStatusCode.OK, otherKey.Status);
        Assert.Equal(30, token.GetProperty("balance_after").GetInt64());
    }

    [Fact]
    public async Task The_cap_is_checked_before_the_balance()
    {
        var user = await app.NewUser();
        var key = Guid.NewGuid();
        for (var i = 0; i < 10; i++)
        {
            await app.ReserveOk(user, "generate_balanced"); // the balance is now 0
        }

        var refused = await ReserveWithKey(user, key, 3, "day");

        Assert.Equal(HttpStatusCode.PaymentRequired, refused.Status);
        Assert.Equal("auth.key_credit_limit", refused.Body.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("""{"amount": 0, "period": "day"}""")]
    [InlineData("""{"amount": -5, "period": "day"}""")]
    [InlineData("""{"amount": 10000000000, "period": "day"}""")]
    [InlineData("""{"amount": 2.5, "period": "day"}""")]
    [InlineData("""{"amount": 10, "period": "week"}""")]
    [InlineData("""{"amount": 10}""")]
    [InlineData("""{"amount": 10, "period": "day", "extra": 1}""")]
    [InlineData("\"10\"")]
    public async Task A_bad_cap_is_422_naming_key_credit_limit_and_charges_nothing(string limit)
    {
        var user = await app.NewUser();
        var body = $$"""{"user_id": "{{user}}", "operation": "generate_balanced", "api_key_id": "{{Guid.NewGuid()}}", "key_credit_limit": {{limit}}}""";

        using var response = await app.Service(HttpMethod.Post, "/internal/credits/reserve", body);

        var problem = await CreditsApp.Problem(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("key_credit_limit", out _));
        Assert.Equal(50, await app.Balance(user));
    }

    [Fact]
    public async Task A_cap_without_its_key_or_a_bad_key_id_is_422()
    {
        var user = await app.NewUser();

        using var noKey = await app.Service(HttpMethod.Post, "/internal/credits/reserve",
            new { user_id = user, operation = "generate_balanced", key_credit_limit = new { amount = 10, period = "day" } });
        using var badKey = await app.Service(HttpMethod.Post, "/internal/credits/reserve",
            new { user_id = user, operation = "generate_balanced", api_key_id = "not-a-key" });

        Assert.True((await CreditsApp.Problem(noKey, HttpStatusCode.UnprocessableEntity, "validation_failed"))
            .GetProperty("errors").TryGetProperty("key_credit_limit", out _));
        Assert.True((await CreditsApp.Problem(badKey, HttpStatusCode.UnprocessableEntity, "validation_failed"))
            .GetProperty("errors").TryGetProperty("api_key_id", out _));
        Assert.Equal(50, await app.Balance(user));
    }

    [Fact]
    public async Task Key_spending_is_read_per_period_without_refunded_calls()
    {
        var user = await app.NewUser();
        var key = Guid.NewGuid();
        var first = await ReserveWithKey(user, key, 100, "day");
        await ReserveWithKey(user, key, 100, "day");
        using (var refund = await app.Service(HttpMethod.Post,
            $"/internal/credits/reservations/{first.Body.GetProperty("reservation_id").GetGuid()}/refund", new { reason = "test" }))
        {
            await CreditsApp.Ok(refund);
        }

        using var response = await app.Service(HttpMethod.Get, $"/internal/credits/users/{user}/api-keys/spending");
        var spending = (await CreditsApp.Ok(response)).EnumerateArray().Single();

        Assert.Equal(key, spending.GetProperty("api_key_id").GetGuid());
        Assert.Equal(5, spending.GetProperty("day").GetInt64());
        Assert.Equal(5, spending.GetProperty("month").GetInt64());
        Assert.Equal(5, spending.GetProperty("total").GetInt64());
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> ReserveWithKey(Guid user, Guid key, long cap, string period)
    {
        using var response = await app.Service(HttpMethod.Post, "/internal/credits/reserve", new
        {
            user_id = user,
            operation = "generate_balanced",
            idempotency_key = "edge:" + Guid.NewGuid().ToString("N"),
            api_key_id = key,
            key_credit_limit = new { amount = cap, period },
        });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.PaymentRequired, $"{(int)response.StatusCode}: {text}");
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<long> CountAsync(string sql, Guid key)
    {
        await using var command = app.Database.CreateCommand(sql);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = key });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
