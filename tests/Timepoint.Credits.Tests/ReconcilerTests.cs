using System.Net;

namespace Timepoint.Credits.Tests;

/// <summary>Credits with a one-second reservation timeout, so the reconciler's sweep can be watched.</summary>
public sealed class ShortTimeoutCreditsApp : CreditsApp
{
    public ShortTimeoutCreditsApp()
    {
        Settings["Credits:ReservationTimeoutSeconds"] = "1";
        Settings["Credits:ReconcilerIntervalSeconds"] = "1";
    }
}

public sealed class ReconcilerTests(ShortTimeoutCreditsApp app) : IClassFixture<ShortTimeoutCreditsApp>
{
    [Fact]
    public async Task The_reconciler_refunds_a_reservation_left_open_exactly_once_and_leaves_settled_ones_alone()
    {
        var user = await app.NewUser();
        var abandoned = (await app.ReserveOk(user, "generate_hd")).GetProperty("reservation_id").GetGuid();
        var settled = (await app.ReserveOk(user, "chat")).GetProperty("reservation_id").GetGuid();
        using (var settle = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{settled}/settle"))
        {
            await CreditsApp.Ok(settle);
        }

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await app.Facts(user)).Refunds == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        await Task.Delay(2500); // a few more sweeps: none may refund again
        var facts = await app.Facts(user);
        Assert.Equal(1, facts.Refunds);
        Assert.Equal(49, facts.Balance);
        Assert.Equal(facts.Balance, facts.LedgerSum);

        // The gateway's late answers: its refund is a no-op with the same result, its settle comes too late.
        using var lateRefund = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{abandoned}/refund");
        using var lateSettle = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{abandoned}/settle");
        Assert.Equal(49, (await CreditsApp.Ok(lateRefund)).GetProperty("balance_after").GetInt64());
        await CreditsApp.Problem(lateSettle, HttpStatusCode.Conflict, "conflict");
        Assert.Equal(1, (await app.Facts(user)).Refunds);
    }
}
