using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenIddict.EntityFrameworkCore.Models;

namespace Timepoint.Identity.Tests;

/// <summary>Identity pruning every second with no minimum age, so a test can watch OpenIddict's tables shrink.</summary>
public sealed class PruningIdentityFactory : IdentityFactory
{
    public PruningIdentityFactory()
    {
        Settings["Identity:Pruning:Interval"] = "00:00:01";
        Settings["Identity:Pruning:MinimumAge"] = "00:00:00";
    }
}

public sealed class TokenPruningTests(PruningIdentityFactory factory) : IClassFixture<PruningIdentityFactory>
{
    [Fact]
    public async Task Redeemed_tokens_and_ended_sessions_are_pruned_on_schedule_and_a_live_session_keeps_refreshing()
    {
        using var client = factory.CreateClient();
        var live = await factory.DevTokenAsync(client);
        for (var i = 0; i < 3; i++)
        {
            using var refresh = await RefreshAsync(client, live.RefreshToken);
            Assert.Equal(HttpStatusCode.OK, refresh.StatusCode);
            live = (await refresh.Content.ReadFromJsonAsync<TokenPairDto>(IdentityFactory.Json))!;
        }

        var ended = await factory.DevTokenAsync(client);
        using (var logout = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout").Signed(factory.GatewaySecret, Subject(ended), sessionId: Session(ended)))
        {
            using var response = await client.SendAsync(logout);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Pruning runs every second here: the redeemed refresh tokens and the logged-out session go, the live session stays.
        var (liveUser, endedUser) = (Subject(live).ToString(), Subject(ended).ToString());
        var deadline = DateTime.UtcNow.AddSeconds(30);
        (int Redeemed, int EndedTokens, int EndedAuthorizations) left;
        do
        {
            await Task.Delay(500);
            left = await factory.WithDbAsync(async db => (
                await db.Set<OpenIddictEntityFrameworkCoreToken>().CountAsync(t => t.Subject == liveUser && t.Status == "redeemed"),
                await db.Set<OpenIddictEntityFrameworkCoreToken>().CountAsync(t => t.Subject == endedUser),
                await db.Set<OpenIddictEntityFrameworkCoreAuthorization>().CountAsync(a => a.Subject == endedUser)));
        }
        while (left != (0, 0, 0) && DateTime.UtcNow < deadline);

        Assert.Equal((0, 0, 0), left);
        var liveSession = Session(live);
        Assert.True(await factory.WithDbAsync(db => db.Set<OpenIddictEntityFrameworkCoreAuthorization>().AnyAsync(a => a.Id == liveSession)));
        using var stillWorks = await RefreshAsync(client, live.RefreshToken);
        Assert.Equal(HttpStatusCode.OK, stillWorks.StatusCode);
    }

    private static Guid Subject(TokenPairDto pair) => Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);

    private static string Session(TokenPairDto pair) => new JsonWebToken(pair.AccessToken).GetClaim("oi_au_id").Value;

    private static Task<HttpResponseMessage> RefreshAsync(HttpClient client, string refreshToken) =>
        client.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = refreshToken });
}
