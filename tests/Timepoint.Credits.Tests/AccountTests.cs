using System.Net;

namespace Timepoint.Credits.Tests;

public sealed class AccountTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    [Fact]
    public async Task Opening_an_account_gives_the_signup_bonus_once_however_often_it_is_called()
    {
        var user = Guid.NewGuid();

        using var first = await app.Service(HttpMethod.Post, "/internal/credits/accounts", new { user_id = user });
        using var again = await app.Service(HttpMethod.Post, "/internal/credits/accounts", new { user_id = user });

        var created = await CreditsApp.Ok(first);
        Assert.True(created.GetProperty("created").GetBoolean());
        Assert.Equal(50, created.GetProperty("balance").GetInt64());
        Assert.False((await CreditsApp.Ok(again)).GetProperty("created").GetBoolean());
        var facts = await app.Facts(user);
        Assert.Equal(1, facts.SignupBonuses);
        Assert.Equal(50, facts.Balance);
    }

    [Fact]
    public async Task Concurrent_first_touches_give_the_signup_bonus_exactly_once()
    {
        var user = Guid.NewGuid();

        var created = await ConcurrencyHarness.RunAsync(40, async i =>
        {
            if (i % 2 == 0)
            {
                using var open = await app.Service(HttpMethod.Post, "/internal/credits/accounts", new { user_id = user });
                return (await CreditsApp.Ok(open)).GetProperty("created").GetBoolean();
            }

            using var balance = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/balance", user));
            Assert.Equal(50, (await CreditsApp.Ok(balance)).GetProperty("balance").GetInt64());
            return false;
        });

        Assert.InRange(created, 0, 1);
        var facts = await app.Facts(user);
        Assert.Equal(1, facts.SignupBonuses);
        Assert.Equal(50, facts.Balance);
        Assert.Equal(50, facts.LedgerSum);
    }

    [Fact]
    public async Task Deleting_a_user_removes_everything_and_the_user_never_gets_an_account_or_bonus_again()
    {
        var user = await app.NewUser();
        await app.ReserveOk(user, "chat", "k1", "fp");
        using (var grant = await app.Admin(HttpMethod.Post, "/api/v1/credits/admin/grant", new { user_id = user, amount = 5 }))
        {
            await CreditsApp.Ok(grant);
        }

        using var delete = await app.Service(HttpMethod.Delete, $"/internal/credits/users/{user}");
        using var deleteAgain = await app.Service(HttpMethod.Delete, $"/internal/credits/users/{user}");

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, deleteAgain.StatusCode);
        Assert.Equal(new LedgerFacts(null, 0, null, 0, 0, 0, 0, 0), await app.Facts(user));

        using var open = await app.Service(HttpMethod.Post, "/internal/credits/accounts", new { user_id = user });
        using var reserve = await app.Reserve(user, "chat");
        using var grantAgain = await app.Admin(HttpMethod.Post, "/api/v1/credits/admin/grant", new { user_id = user, amount = 5 });
        using var balance = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/balance", user));
        using var history = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/history", user));

        await CreditsApp.Problem(open, HttpStatusCode.Conflict, "conflict");
        await CreditsApp.Problem(reserve, HttpStatusCode.Conflict, "conflict");
        await CreditsApp.Problem(grantAgain, HttpStatusCode.UnprocessableEntity, "validation_failed");
        await CreditsApp.Problem(balance, HttpStatusCode.NotFound, "not_found");
        await CreditsApp.Problem(history, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(new LedgerFacts(null, 0, null, 0, 0, 0, 0, 0), await app.Facts(user));
    }

    [Fact]
    public async Task Deleting_one_user_leaves_other_users_alone()
    {
        var leaving = await app.NewUser();
        var staying = await app.NewUser();
        await app.ReserveOk(staying, "chat");

        using var delete = await app.Service(HttpMethod.Delete, $"/internal/credits/users/{leaving}");

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Equal(49, (await app.Facts(staying)).Balance);
    }
}
