using System.Net;

namespace Timepoint.Credits.Tests;

public sealed class GrantTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    private static readonly LedgerFacts Nothing = new(null, 0, null, 0, 0, 0, 0, 0);

    [Fact]
    public async Task A_grant_adds_credits_with_a_ledger_row_and_answers_balance_and_granted()
    {
        var user = await app.NewUser();

        using var response = await app.Admin(HttpMethod.Post, "/api/v1/credits/admin/grant",
            new { user_id = user, amount = 100, description = "Beta tester" });

        var body = await CreditsApp.Ok(response);
        Assert.Equal(150, body.GetProperty("balance").GetInt64());
        Assert.Equal(100, body.GetProperty("granted").GetInt64());
        using var history = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/history?limit=1", user));
        var row = (await CreditsApp.Ok(history))[0];
        Assert.Equal("admin_grant", row.GetProperty("type").GetString());
        Assert.Equal("Beta tester", row.GetProperty("description").GetString());
        Assert.Equal(150, row.GetProperty("balance_after").GetInt64());
        using var balance = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/balance", user));
        Assert.Equal(150, (await CreditsApp.Ok(balance)).GetProperty("lifetime_earned").GetInt64());
    }

    [Fact]
    public async Task A_grant_may_be_recorded_as_a_refund()
    {
        var user = await app.NewUser();

        using var response = await app.Admin(HttpMethod.Post, "/api/v1/credits/admin/grant",
            new { user_id = user, amount = 7, transaction_type = "refund" });

        await CreditsApp.Ok(response);
        var facts = await app.Facts(user);
        Assert.Equal(1, facts.Refunds);
        Assert.Equal(57, facts.Balance);
    }

    [Fact]
    public async Task A_grant_to_a_user_credits_has_not_seen_opens_the_account_with_its_signup_bonus()
    {
        var user = Guid.NewGuid();

        using var response = await app.Admin(HttpMethod.Post, "/api/v1/credits/admin/grant", new { user_id = user, amount = 10 });

        Assert.Equal(60, (await CreditsApp.Ok(response)).GetProperty("balance").GetInt64());
        var facts = await app.Facts(user);
        Assert.Equal(1, facts.SignupBonuses);
        Assert.Equal(60, facts.LedgerSum);
    }

    [Theory]
    [InlineData("""{"user_id":"{user}","amount":-5}""")]
    [InlineData("""{"user_id":"{user}","amount":0}""")]
    [InlineData("""{"user_id":"{user}","amount":1.5}""")]
    [InlineData("""{"user_id":"{user}","amount":1.0}""")]
    [InlineData("""{"user_id":"{user}","amount":1e2}""")]
    [InlineData("""{"user_id":"{user}","amount":1e30}""")]
    [InlineData("""{"user_id":"{user}","amount":9223372036854775807}""")]
    [InlineData("""{"user_id":"{user}","amount":9223372036854775808}""")]
    [InlineData("""{"user_id":"{user}","amount":-9223372036854775809}""")]
    [InlineData("""{"user_id":"{user}","amount":123456789012345678901234567890}""")]
    [InlineData("""{"user_id":"{user}","amount":1000000001}""")]
    [InlineData("""{"user_id":"{user}","amount":"10"}""")]
    [InlineData("""{"user_id":"{user}","amount":"ten"}""")]
    [InlineData("""{"user_id":"{user}","amount":true}""")]
    [InlineData("""{"user_id":"{user}","amount":null}""")]
    [InlineData("""{"user_id":"{user}","amount":[10]}""")]
    [InlineData("""{"user_id":"{user}","amount":{"value":10}}""")]
    [InlineData("""{"user_id":"{user}"}""")]
    [InlineData("""{"user_id":"{user}","amount":5,"transaction_type":"signup_bonus"}""")]
    [InlineData("""{"user_id":"{user}","amount":5,"transaction_type":"generation"}""")]
    [InlineData("""{"user_id":"{user}","amount":5,"transaction_type":"ADMIN_GRANT"}""")]
    [InlineData("""{"user_id":"{user}","amount":5,"transaction_type":7}""")]
    [InlineData("""{"user_id":"{user}","amount":5,"description":"{long}"}""")]
    [InlineData("""{"user_id":"{user}","amount":5,"amount":500}""")]
    [InlineData("""{"user_id":"{user}","amount":5""")]
    public async Task A_bad_grant_is_a_4xx_validation_problem_and_writes_nothing(string template)
    {
        var user = Guid.NewGuid();
        var body = template.Replace("{user}", user.ToString()).Replace("{long}", new string('d', 501));

        using var response = await app.Admin(HttpMethod.Post, "/api/v1/credits/admin/grant", body);

        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.BadRequest, HttpStatusCode.UnprocessableEntity });
        await CreditsApp.Problem(response, response.StatusCode, "validation_failed");
        Assert.Equal(Nothing, await app.Facts(user));
    }

    [Theory]
    [InlineData("""{"user_id":"not-a-uuid","amount":5}""")]
    [InlineData("""{"user_id":"00000000-0000-0000-0000-000000000000","amount":5}""")]
    [InlineData("""{"user_id":12345,"amount":5}""")]
    [InlineData("""{"user_id":null,"amount":5}""")]
    [InlineData("""{"amount":5}""")]
    [InlineData("""[{"amount":5}]""")]
    [InlineData("42")]
    [InlineData("")]
    public async Task A_grant_without_a_well_formed_user_id_is_refused(string body)
    {
        using var response = await app.Admin(HttpMethod.Post, "/api/v1/credits/admin/grant", body);

        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.BadRequest, HttpStatusCode.UnprocessableEntity });
        await CreditsApp.Problem(response, response.StatusCode, "validation_failed");
        Assert.Equal(Nothing, await app.Facts(Guid.Empty));
    }

    [Fact]
    public async Task A_grant_that_is_not_json_is_a_415()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/credits/admin/grant")
        {
            Content = new StringContent("user_id=x&amount=5", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        request.Headers.Add("X-Admin-Key", app.AdminKey);

        using var response = await app.Client.SendAsync(request);

        await CreditsApp.Problem(response, HttpStatusCode.UnsupportedMediaType, "validation_failed");
    }

    [Fact]
    public async Task A_grant_that_would_overflow_the_balance_is_a_422_and_writes_nothing()
    {
        var user = await app.NewUser();
        await using (var command = app.Database.CreateCommand("UPDATE accounts SET balance = 9223372036854775000 WHERE user_id = $1"))
        {
            command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = user });
            await command.ExecuteNonQueryAsync();
        }

        var before = await app.Facts(user);
        using var response = await app.Admin(HttpMethod.Post, "/api/v1/credits/admin/grant", new { user_id = user, amount = 1_000_000 });

        await CreditsApp.Problem(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.Equal(before, await app.Facts(user));
    }
}
