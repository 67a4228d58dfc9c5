using System.Net;
using System.Text.Json;

namespace Timepoint.Credits.Tests;

public sealed class ReserveTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    [Fact]
    public async Task Two_hundred_concurrent_reserves_against_50_credits_at_cost_5_charge_exactly_10()
    {
        var user = await app.NewUser();

        var successes = await ConcurrencyHarness.RunAsync(200, async _ =>
        {
            using var response = await app.Reserve(user, "generate_balanced");
            return await ConcurrencyHarness.Charged(response);
        });

        var facts = await app.Facts(user);
        Assert.Empty(ConcurrencyHarness.Violations(facts, successes, startingBalance: 50, cost: 5));
        Assert.Equal(0, facts.Balance);
        Assert.Equal(0, await app.Balance(user));
    }

    [Fact]
    public async Task The_same_idempotency_key_sent_20_times_at_once_charges_once()
    {
        var user = await app.NewUser();
        var key = "gen-" + Guid.NewGuid();

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => app.ReserveOk(user, "generate_balanced", key, "fp-1")));

        Assert.Single(answers, a => !a.GetProperty("replayed").GetBoolean());
        Assert.Single(answers.Select(a => a.GetProperty("reservation_id").GetGuid()).Distinct());
        Assert.All(answers, a => Assert.Equal(45, a.GetProperty("balance_after").GetInt64()));
        var facts = await app.Facts(user);
        Assert.Equal(45, facts.Balance);
        Assert.Equal(1, facts.Debits);
        Assert.Equal(1, facts.Reservations);
        Assert.Equal(facts.Balance, facts.LedgerSum);
    }

    [Fact]
    public async Task A_reserve_debits_the_cost_and_writes_a_ledger_row_typed_by_operation()
    {
        var user = await app.NewUser();

        var generation = await app.ReserveOk(user, "generate_hd");
        await app.ReserveOk(user, "chat");
        await app.ReserveOk(user, "temporal_jump");

        Assert.Equal("generate_hd", generation.GetProperty("operation").GetString());
        Assert.Equal(10, generation.GetProperty("charged").GetInt64());
        Assert.Equal(40, generation.GetProperty("balance_after").GetInt64());
        Assert.Equal("reserved", generation.GetProperty("status").GetString());
        Assert.False(generation.GetProperty("replayed").GetBoolean());

        using var history = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/history", user));
        var rows = (await CreditsApp.Ok(history)).EnumerateArray().ToArray();
        Assert.Equal(["temporal", "chat", "generation", "signup_bonus"], rows.Select(r => r.GetProperty("type").GetString()));
        Assert.Equal([37, 39, 40, 50], rows.Select(r => r.GetProperty("balance_after").GetInt64()));

        using var balance = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/balance", user));
        var body = await CreditsApp.Ok(balance);
        Assert.Equal(37, body.GetProperty("balance").GetInt64());
        Assert.Equal(50, body.GetProperty("lifetime_earned").GetInt64());
        Assert.Equal(13, body.GetProperty("lifetime_spent").GetInt64());
    }

    [Fact]
    public async Task Insufficient_credits_is_a_402_naming_required_and_available_and_writes_nothing()
    {
        var user = await app.NewUser();
        for (var i = 0; i < 3; i++)
        {
            await app.ReserveOk(user, "conductor_pro_sim");
        }

        var before = await app.Facts(user);
        using var response = await app.Reserve(user, "conductor_pro_sim", key: "k-" + Guid.NewGuid());

        var problem = await CreditsApp.Problem(response, HttpStatusCode.PaymentRequired, "auth.insufficient_credits");
        Assert.Equal(15, problem.GetProperty("credits_required").GetInt64());
        Assert.Equal(5, problem.GetProperty("credits_available").GetInt64());
        Assert.Equal(before, await app.Facts(user));
    }

    [Fact]
    public async Task A_user_credits_has_never_seen_gets_the_signup_bonus_on_first_reserve()
    {
        var user = Guid.NewGuid();

        var reservation = await app.ReserveOk(user, "chat");

        Assert.Equal(49, reservation.GetProperty("balance_after").GetInt64());
        Assert.Equal(1, (await app.Facts(user)).SignupBonuses);
    }

    [Fact]
    public async Task A_retry_with_the_same_key_replays_the_first_outcome_and_its_current_status_without_charging()
    {
        var user = await app.NewUser();
        var key = "k-" + Guid.NewGuid();
        var first = await app.ReserveOk(user, "generate_hd", key, "body-hash");
        var id = first.GetProperty("reservation_id").GetGuid();

        var inFlight = await app.ReserveOk(user, "generate_hd", key, "body-hash");
        using (var settle = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{id}/settle"))
        {
            await CreditsApp.Ok(settle);
        }

        // Spend the rest, so a replay that tried to charge again would be refused.
        for (var i = 0; i < 4; i++)
        {
            await app.ReserveOk(user, "generate_hd");
        }

        var settled = await app.ReserveOk(user, "generate_hd", key, "body-hash");

        Assert.True(inFlight.GetProperty("replayed").GetBoolean());
        Assert.Equal("reserved", inFlight.GetProperty("status").GetString());
        Assert.True(settled.GetProperty("replayed").GetBoolean());
        Assert.Equal("settled", settled.GetProperty("status").GetString());
        Assert.Equal(id, settled.GetProperty("reservation_id").GetGuid());
        Assert.Equal(40, settled.GetProperty("balance_after").GetInt64());
        Assert.Equal(10, settled.GetProperty("charged").GetInt64());
        var facts = await app.Facts(user);
        Assert.Equal(0, facts.Balance);
        Assert.Equal(5, facts.Debits);
    }

    [Fact]
    public async Task The_same_key_with_another_fingerprint_or_operation_is_a_422_and_charges_nothing()
    {
        var user = await app.NewUser();
        var key = "k-" + Guid.NewGuid();
        await app.ReserveOk(user, "generate_balanced", key, "body-1");

        using var otherBody = await app.Reserve(user, "generate_balanced", key, "body-2");
        using var otherOperation = await app.Reserve(user, "chat", key, "body-1");
        using var noFingerprint = await app.Reserve(user, "generate_balanced", key);

        await CreditsApp.Problem(otherBody, HttpStatusCode.UnprocessableEntity, "validation_failed");
        await CreditsApp.Problem(otherOperation, HttpStatusCode.UnprocessableEntity, "validation_failed");
        await CreditsApp.Problem(noFingerprint, HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.Equal(45, (await app.Facts(user)).Balance);
    }

    [Fact]
    public async Task Idempotency_keys_are_scoped_per_user()
    {
        var alice = await app.NewUser();
        var bob = await app.NewUser();
        var key = "shared-" + Guid.NewGuid();

        var forAlice = await app.ReserveOk(alice, "chat", key, "fp");
        var forBob = await app.ReserveOk(bob, "chat", key, "fp");

        Assert.False(forBob.GetProperty("replayed").GetBoolean());
        Assert.NotEqual(forAlice.GetProperty("reservation_id").GetGuid(), forBob.GetProperty("reservation_id").GetGuid());
    }

    [Fact]
    public async Task An_idempotency_key_over_255_characters_is_a_422_and_255_is_accepted()
    {
        var user = await app.NewUser();

        using var tooLong = await app.Reserve(user, "chat", new string('k', 256));
        var problem = await CreditsApp.Problem(tooLong, HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("idempotency_key", out _));
        Assert.Equal(50, (await app.Facts(user)).Balance);

        await app.ReserveOk(user, "chat", new string('k', 255));
        Assert.Equal(49, (await app.Facts(user)).Balance);
    }

    [Theory]
    [InlineData("""{"user_id":"{user}","operation":"teleport"}""")]
    [InlineData("""{"user_id":"{user}"}""")]
    [InlineData("""{"user_id":"{user}","operation":5}""")]
    [InlineData("""{"user_id":"{user}","operation":"chat","idempotency_key":""}""")]
    [InlineData("""{"user_id":"{user}","operation":"chat","idempotency_key":12}""")]
    [InlineData("""{"user_id":"{user}","operation":"chat","request_fingerprint":"{long}"}""")]
    [InlineData("""{"user_id":"nope","operation":"chat"}""")]
    [InlineData("""{"operation":"chat"}""")]
    public async Task A_bad_reserve_request_is_a_422_and_writes_nothing(string template)
    {
        var user = Guid.NewGuid();
        var body = template.Replace("{user}", user.ToString()).Replace("{long}", new string('f', 256));

        using var response = await app.Service(HttpMethod.Post, "/internal/credits/reserve", body);

        await CreditsApp.Problem(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.Equal(new LedgerFacts(null, 0, null, 0, 0, 0, 0, 0), await app.Facts(user));
    }

    [Fact]
    public async Task Costs_are_public_and_carry_the_spec_defaults()
    {
        using var response = await app.Client.GetAsync("/api/v1/credits/costs");

        var costs = (await CreditsApp.Ok(response)).GetProperty("costs");
        var expected = new Dictionary<string, long>
        {
            ["generate_balanced"] = 5, ["generate_hd"] = 10, ["generate_hyper"] = 5, ["generate_gemini3"] = 5, ["chat"] = 1,
            ["temporal_jump"] = 2, ["conductor_pro_sim"] = 15, ["conductor_compare"] = 10, ["clockchain_index"] = 1,
        };
        Assert.Equal(expected, costs.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64()));
    }
}
