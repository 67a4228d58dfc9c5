using System.Net;

namespace Timepoint.Credits.Tests;

public sealed class HistoryTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    [Fact]
    public async Task History_is_newest_first_and_pages_with_limit_and_offset()
    {
        var user = await app.NewUser();
        for (var i = 0; i < 25; i++)
        {
            await app.ReserveOk(user, "chat");
        }

        var all = await History(user, "");
        var page = await History(user, "?limit=3&offset=2");
        var last = await History(user, "?limit=100&offset=25");

        Assert.Equal(20, all.Length);
        Assert.Equal(all.Select(r => r.GetProperty("id").GetInt64()).OrderDescending(), all.Select(r => r.GetProperty("id").GetInt64()));
        Assert.Equal(25, all[0].GetProperty("balance_after").GetInt64());
        Assert.Equal(all.Skip(2).Take(3).Select(r => r.GetProperty("id").GetInt64()), page.Select(r => r.GetProperty("id").GetInt64()));
        var bonus = Assert.Single(last);
        Assert.Equal("signup_bonus", bonus.GetProperty("type").GetString());
        Assert.Equal(50, bonus.GetProperty("amount").GetInt64());
        Assert.True(bonus.TryGetProperty("created_at", out _));
        Assert.True(bonus.TryGetProperty("description", out _));
    }

    [Theory]
    [InlineData("?limit=0")]
    [InlineData("?limit=101")]
    [InlineData("?limit=-1")]
    [InlineData("?limit=abc")]
    [InlineData("?limit=1.5")]
    [InlineData("?limit=99999999999")]
    [InlineData("?offset=-1")]
    [InlineData("?offset=x")]
    public async Task A_bad_limit_or_offset_is_a_422(string query)
    {
        using var response = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/history" + query, Guid.NewGuid()));

        await CreditsApp.Problem(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
    }

    [Fact]
    public async Task A_user_sees_only_their_own_history()
    {
        var alice = await app.NewUser();
        var bob = await app.NewUser();
        await app.ReserveOk(alice, "generate_hd");

        var bobs = await History(bob, "");

        Assert.Equal("signup_bonus", Assert.Single(bobs).GetProperty("type").GetString());
    }

    private async Task<System.Text.Json.JsonElement[]> History(Guid user, string query)
    {
        using var response = await app.Client.SendAsync(app.AsUser(HttpMethod.Get, "/api/v1/credits/history" + query, user));
        return [.. (await CreditsApp.Ok(response)).EnumerateArray()];
    }
}
