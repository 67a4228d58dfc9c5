using System.Net;
using System.Text.Json;

namespace Timepoint.Credits.Tests;

/// <summary>Usage per user and per key: charged calls read from the reservations, request counts from the edge's batches.</summary>
public sealed class UsageTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    private static string Today => DateTime.UtcNow.ToString("yyyy-MM-dd");

    private static string DaysAgo(int days) => DateTime.UtcNow.AddDays(-days).ToString("yyyy-MM-dd");

    [Fact]
    public async Task Usage_by_day_has_every_day_with_zeros_and_leaves_refunded_calls_out()
    {
        var user = await app.NewUser();
        await app.ReserveOk(user, "generate_balanced");
        var refunded = await app.ReserveOk(user, "generate_hd");
        using (var refund = await app.Service(HttpMethod.Post,
            $"/internal/credits/reservations/{refunded.GetProperty("reservation_id").GetGuid()}/refund", new { reason = "test" }))
        {
            await CreditsApp.Ok(refund);
        }

        var usage = await UsageAsync(user, $"from={DaysAgo(6)}&to={Today}&group_by=day");
        var rows = usage.GetProperty("rows").EnumerateArray().ToArray();

        Assert.Equal(7, rows.Length);
        Assert.Equal(Today, rows[^1].GetProperty("date").GetString());
        Assert.Equal(5, rows[^1].GetProperty("credits_charged").GetInt64());
        Assert.Equal(1, rows[^1].GetProperty("calls").GetInt64());
        Assert.All(rows[..^1], r => Assert.Equal(0, r.GetProperty("calls").GetInt64()));
        Assert.Equal(5, usage.GetProperty("totals").GetProperty("credits_charged").GetInt64());
    }

    [Fact]
    public async Task Usage_by_operation_and_by_api_key()
    {
        var user = await app.NewUser();
        var key = Guid.NewGuid();
        await app.ReserveOk(user, "generate_balanced");
        await app.ReserveOk(user, "chat");
        using (var withKey = await app.Service(HttpMethod.Post, "/internal/credits/reserve",
            new { user_id = user, operation = "generate_hd", api_key_id = key }))
        {
            await CreditsApp.Ok(withKey);
        }

        var byOperation = (await UsageAsync(user, "group_by=operation")).GetProperty("rows").EnumerateArray()
            .ToDictionary(r => r.GetProperty("operation").GetString()!, r => r.GetProperty("credits_charged").GetInt64());
        var byKey = (await UsageAsync(user, "group_by=api_key")).GetProperty("rows").EnumerateArray()
            .ToDictionary(r => r.GetProperty("api_key_id").GetString() ?? "token", r => r.GetProperty("calls").GetInt64());

        Assert.Equal(new Dictionary<string, long> { ["chat"] = 1, ["generate_balanced"] = 5, ["generate_hd"] = 10 }, byOperation);
        Assert.Equal(new Dictionary<string, long> { ["token"] = 2, [key.ToString()] = 1 }, byKey);
    }

    [Fact]
    public async Task A_keys_days_add_the_edges_batched_counts_to_its_charges()
    {
        var user = await app.NewUser();
        var key = Guid.NewGuid();
        using (var withKey = await app.Service(HttpMethod.Post, "/internal/credits/reserve",
            new { user_id = user, operation = "generate_balanced", api_key_id = key }))
        {
            await CreditsApp.Ok(withKey);
        }

        foreach (var (requests, refused) in new[] { (3, 1), (4, 0) })
        {
            using var batch = await app.Service(HttpMethod.Post, "/internal/credits/usage", new
            {
                counts = new object[]
                {
                    new { user_id = user, api_key_id = key, date = Today, requests, refused },
                    new { user_id = user, api_key_id = (Guid?)null, date = Today, requests = 100, refused = 100 },
                },
            });
            Assert.Equal(HttpStatusCode.NoContent, batch.StatusCode);
        }

        using var response = await app.Service(HttpMethod.Get, $"/internal/credits/users/{user}/api-keys/{key}/usage?from={DaysAgo(2)}&to={Today}");
        var days = (await CreditsApp.Ok(response)).EnumerateArray().ToArray();

        Assert.Equal(3, days.Length);
        Assert.Equal(Today, days[^1].GetProperty("date").GetString());
        Assert.Equal(7, days[^1].GetProperty("requests").GetInt64());
        Assert.Equal(1, days[^1].GetProperty("refused").GetInt64());
        Assert.Equal(5, days[^1].GetProperty("credits_charged").GetInt64());
        Assert.All(days[..^1], d => Assert.Equal(0, d.GetProperty("requests").GetInt64() + d.GetProperty("credits_charged").GetInt64()));
    }

    [Theory]
    [InlineData("from=2026-13-01", "from")]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=2026-02-30", "to")]
    [InlineData("from=2026-03-02&to=2026-03-01", "from")]
    [InlineData("from=2026-01-01&to=2026-04-03", "to")]
    [InlineData("group_by=week", "group_by")]
    public async Task Bad_usage_queries_are_422_naming_the_field(string query, string field)
    {
        var user = await app.NewUser();

        using var response = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, $"/api/v1/credits/usage?{query}", user));

        var problem = await CreditsApp.Problem(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Ninety_two_days_is_the_most_a_query_may_cover()
    {
        var user = await app.NewUser();

        var usage = await UsageAsync(user, "from=2026-01-01&to=2026-04-02");

        Assert.Equal(92, usage.GetProperty("rows").GetArrayLength());
        Assert.Equal("2026-01-01", usage.GetProperty("rows")[0].GetProperty("date").GetString());
        Assert.Equal("2026-04-02", usage.GetProperty("rows")[91].GetProperty("date").GetString());
    }

    private async Task<JsonElement> UsageAsync(Guid user, string query)
    {
        using var response = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, $"/api/v1/credits/usage?{query}", user));
        return await CreditsApp.Ok(response);
    }
}
