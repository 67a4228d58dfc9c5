using System.Net;

namespace Timepoint.Credits.Tests;

public sealed class SettleManyTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    private const string Path = "/internal/credits/reservations/settle";

    [Fact]
    public async Task One_call_settles_many_and_answers_each_id_in_order_as_its_own_settle_would()
    {
        var user = await app.NewUser();
        var open = (await app.ReserveOk(user, "chat")).GetProperty("reservation_id").GetGuid();
        var settledBefore = (await app.ReserveOk(user, "chat")).GetProperty("reservation_id").GetGuid();
        var refunded = (await app.ReserveOk(user, "chat")).GetProperty("reservation_id").GetGuid();
        using (await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{settledBefore}/settle"))
        using (await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{refunded}/refund"))
        {
        }

        var unknown = Guid.NewGuid();
        using var response = await app.Service(HttpMethod.Post, Path,
            new { reservation_ids = new[] { open, settledBefore, refunded, unknown, open } });

        var answers = (await CreditsApp.Ok(response)).GetProperty("reservations").EnumerateArray()
            .Select(a => (a.GetProperty("reservation_id").GetGuid(), a.GetProperty("status").GetString())).ToArray();
        Assert.Equal(
            [(open, "settled"), (settledBefore, "settled"), (refunded, "refunded"), (unknown, "not_found"), (open, "settled")],
            answers);

        // The charges stand, and a late refund of a settled one is refused.
        using var late = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{open}/refund");
        await CreditsApp.Problem(late, HttpStatusCode.Conflict, "conflict");
        var facts = await app.Facts(user);
        Assert.Equal(1, facts.Refunds);
        Assert.Equal(facts.Balance, facts.LedgerSum);
    }

    [Theory]
    [InlineData("""{"reservation_ids":[]}""")]
    [InlineData("""{"reservation_ids":"not-a-list"}""")]
    [InlineData("""{"reservation_ids":["nope"]}""")]
    [InlineData("""{"reservation_ids":["00000000-0000-0000-0000-000000000000"]}""")]
    [InlineData("""{"reservation_ids":[42]}""")]
    [InlineData("""{}""")]
    public async Task A_bad_batch_is_a_422_and_settles_nothing(string body)
    {
        var user = await app.NewUser();
        var id = (await app.ReserveOk(user, "chat")).GetProperty("reservation_id").GetGuid();
        var json = body.Replace("\"nope\"", $"\"{id}\", \"nope\"", StringComparison.Ordinal);

        using var response = await app.Service(HttpMethod.Post, Path, json);

        await CreditsApp.Problem(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
        using var refund = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{id}/refund");
        Assert.Equal("refunded", (await CreditsApp.Ok(refund)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task More_than_1000_ids_is_a_422()
    {
        using var response = await app.Service(HttpMethod.Post, Path,
            new { reservation_ids = Enumerable.Range(0, 1001).Select(_ => Guid.NewGuid()).ToArray() });

        await CreditsApp.Problem(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
    }

    [Fact]
    public async Task The_batch_route_needs_the_service_key()
    {
        using var response = await app.Send(HttpMethod.Post, Path, new { reservation_ids = new[] { Guid.NewGuid() } }, null, null);

        await CreditsApp.Problem(response, HttpStatusCode.Unauthorized, "auth.missing");
    }
}
