using System.Net;

namespace Timepoint.Credits.Tests;

public sealed class RefundTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    [Fact]
    public async Task A_refund_restores_the_balance_once_and_a_second_refund_answers_the_same_without_a_row()
    {
        var user = await app.NewUser();
        var id = (await app.ReserveOk(user, "generate_hd")).GetProperty("reservation_id").GetGuid();

        using var first = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{id}/refund", new { reason = "backend 503" });
        using var second = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{id}/refund");

        var one = await CreditsApp.Ok(first);
        var two = await CreditsApp.Ok(second);
        Assert.Equal("refunded", one.GetProperty("status").GetString());
        Assert.Equal(50, one.GetProperty("balance_after").GetInt64());
        Assert.Equal(one.ToString(), two.ToString());

        var facts = await app.Facts(user);
        Assert.Equal(50, facts.Balance);
        Assert.Equal(1, facts.Refunds);
        Assert.Equal(facts.Balance, facts.LedgerSum);

        using var history = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/history?limit=1", user));
        var refund = (await CreditsApp.Ok(history))[0];
        Assert.Equal("refund", refund.GetProperty("type").GetString());
        Assert.Equal(10, refund.GetProperty("amount").GetInt64());
        Assert.Equal("backend 503", refund.GetProperty("description").GetString());

        using var balance = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/balance", user));
        Assert.Equal(0, (await CreditsApp.Ok(balance)).GetProperty("lifetime_spent").GetInt64());
    }

    [Fact]
    public async Task Twenty_concurrent_refunds_of_one_reservation_write_one_refund_row()
    {
        var user = await app.NewUser();
        await app.ReserveOk(user, "chat");
        var id = (await app.ReserveOk(user, "conductor_pro_sim")).GetProperty("reservation_id").GetGuid();

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var response = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{id}/refund");
            return await CreditsApp.Ok(response);
        }));

        Assert.All(answers, a => Assert.Equal(49, a.GetProperty("balance_after").GetInt64()));
        var facts = await app.Facts(user);
        Assert.Equal(49, facts.Balance);
        Assert.Equal(1, facts.Refunds);
        Assert.Equal(facts.Balance, facts.LedgerSum);
    }

    [Fact]
    public async Task A_settled_reservation_cannot_be_refunded_and_a_refunded_one_cannot_be_settled()
    {
        var user = await app.NewUser();
        var settled = (await app.ReserveOk(user, "chat")).GetProperty("reservation_id").GetGuid();
        var refunded = (await app.ReserveOk(user, "chat")).GetProperty("reservation_id").GetGuid();

        using var settle = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{settled}/settle");
        using var settleAgain = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{settled}/settle");
        using var refundSettled = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{settled}/refund");
        using var refund = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{refunded}/refund");
        using var settleRefunded = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{refunded}/settle");

        var body = await CreditsApp.Ok(settle);
        Assert.Equal(settled, body.GetProperty("reservation_id").GetGuid());
        Assert.Equal("settled", body.GetProperty("status").GetString());
        await CreditsApp.Ok(settleAgain);
        await CreditsApp.Problem(refundSettled, HttpStatusCode.Conflict, "conflict");
        await CreditsApp.Ok(refund);
        await CreditsApp.Problem(settleRefunded, HttpStatusCode.Conflict, "conflict");
        var facts = await app.Facts(user);
        Assert.Equal(49, facts.Balance);
        Assert.Equal(facts.Balance, facts.LedgerSum);
    }

    [Fact]
    public async Task Settling_or_refunding_an_unknown_reservation_is_a_404()
    {
        var id = Guid.NewGuid();

        using var settle = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{id}/settle");
        using var refund = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{id}/refund");

        await CreditsApp.Problem(settle, HttpStatusCode.NotFound, "not_found");
        await CreditsApp.Problem(refund, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task A_refund_reason_that_is_not_a_string_is_a_422_and_refunds_nothing()
    {
        var user = await app.NewUser();
        var id = (await app.ReserveOk(user, "chat")).GetProperty("reservation_id").GetGuid();

        using var response = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{id}/refund", """{"reason":42}""");

        await CreditsApp.Problem(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.Equal(49, (await app.Facts(user)).Balance);
    }
}
