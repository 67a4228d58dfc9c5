using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Timepoint.Identity.Tests;

/// <summary>The operator endpoints the dashboard commands call (identity's X-Admin-Key).</summary>
public sealed class AdminTests(IdentityFactory factory) : IClassFixture<IdentityFactory>
{
    [Fact]
    public async Task Revoking_a_users_sessions_ends_every_refresh_token_of_that_user_only()
    {
        using var client = factory.CreateClient();
        var email = $"ops-{Guid.NewGuid():N}@example.test";
        var first = await factory.DevTokenAsync(client, email);
        var second = await factory.DevTokenAsync(client, email);
        var bystander = await factory.DevTokenAsync(client);
        var userId = Subject(first);

        using var revoke = await AdminPostAsync(client, $"/internal/identity/admin/users/{userId}/sessions/revoke");

        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        var body = await revoke.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(userId, body.GetProperty("user_id").GetGuid());
        Assert.True(body.GetProperty("revoked_tokens").GetInt64() >= 2);
        foreach (var pair in new[] { first, second })
        {
            using var refresh = await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = pair.RefreshToken });
            Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
        }

        using var other = await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = bystander.RefreshToken });
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task Revoking_sessions_of_an_unknown_user_is_404()
    {
        using var client = factory.CreateClient();
        using var response = await AdminPostAsync(client, $"/internal/identity/admin/users/{Guid.NewGuid()}/sessions/revoke");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("wrong-admin-key-0123456789abcdef0123456789", HttpStatusCode.Forbidden)]
    public async Task Admin_endpoints_need_identitys_admin_key(string? key, HttpStatusCode expected)
    {
        using var client = factory.CreateClient();
        foreach (var path in new[] { $"/internal/identity/admin/users/{Guid.NewGuid()}/sessions/revoke", "/internal/identity/admin/demo/reset" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path);
            if (key is not null)
            {
                request.Headers.Add("X-Admin-Key", key);
            }

            using var response = await client.SendAsync(request);
            Assert.Equal(expected, response.StatusCode);
        }

        using var withServiceKey = new HttpRequestMessage(HttpMethod.Post, "/internal/identity/admin/demo/reset");
        withServiceKey.Headers.Add("X-Admin-Key", factory.ServiceKey);
        using var refused = await client.SendAsync(withServiceKey);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task Resetting_demo_data_deletes_every_demo_user_and_the_next_demo_sign_in_starts_fresh()
    {
        using var client = factory.CreateClient();
        var first = await DemoSignInAsync(client);
        var second = await DemoSignInAsync(client);

        using var reset = await AdminPostAsync(client, "/internal/identity/admin/demo/reset");

        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        var body = await reset.Content.ReadFromJsonAsync<JsonElement>();
        var deleted = body.GetProperty("deleted_user_ids").EnumerateArray().Select(e => e.GetGuid()).ToList();
        Assert.Contains(Subject(first), deleted);
        Assert.Contains(Subject(second), deleted);
        using var refresh = await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = first.RefreshToken });
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
        // The deletion of its credits and timepoints is queued like any account deletion's.
        var demoId = Subject(first);
        var queued = await factory.WithDbAsync(db => db.Outbox.Where(m => m.UserId == demoId).Select(m => m.Kind).ToListAsync());
        Assert.Contains(Timepoint.Identity.Downstream.Outbox.DeleteCredits, queued);
        Assert.Contains(Timepoint.Identity.Downstream.Outbox.DeleteFlash, queued);

        var after = await DemoSignInAsync(client);
        Assert.DoesNotContain(Subject(after), deleted);
    }

    [Fact]
    public async Task Each_demo_sign_in_is_a_user_of_its_own_so_visitors_cannot_see_log_out_or_delete_each_other()
    {
        using var client = factory.CreateClient();
        var visitor = await DemoSignInAsync(client);
        var other = await DemoSignInAsync(client);
        Assert.NotEqual(Subject(visitor), Subject(other));

        // The first visitor logs out and deletes "the demo account": it is only theirs.
        using var logout = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout")
            .Signed(factory.GatewaySecret, Subject(visitor)));
        using var delete = await client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/api/v1/auth/me")
            .Signed(factory.GatewaySecret, Subject(visitor)));
        Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);

        using var refresh = await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = other.RefreshToken });
        Assert.Equal(HttpStatusCode.OK, refresh.StatusCode);
        using var me = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/v1/auth/me").Signed(factory.GatewaySecret, Subject(other)));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);

        // Signing in again makes another new user: no user ever gets a second signup bonus.
        var again = await DemoSignInAsync(client);
        Assert.NotEqual(Subject(visitor), Subject(again));
        foreach (var id in new[] { Subject(visitor), Subject(other), Subject(again) })
        {
            Assert.Equal(1, await factory.WithDbAsync(db =>
                db.Outbox.CountAsync(m => m.UserId == id && m.Kind == Timepoint.Identity.Downstream.Outbox.SignupBonus)));
        }
    }

    [Fact]
    public async Task A_demo_user_is_deleted_with_its_data_once_its_lifetime_is_over()
    {
        using var client = factory.CreateClient();
        var expired = Subject(await DemoSignInAsync(client));
        var fresh = Subject(await DemoSignInAsync(client));
        await factory.WithDbAsync(db => db.ExternalLogins.Where(l => l.UserId == expired)
            .ExecuteUpdateAsync(l => l.SetProperty(x => x.LinkedAt, DateTimeOffset.UtcNow.AddHours(-3))));

        await using (var scope = factory.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<Timepoint.Identity.Auth.DemoUsers>().DeleteExpiredAsync(CancellationToken.None);
        }

        Assert.Null(await factory.WithDbAsync(db => db.Users.FindAsync(expired).AsTask()));
        Assert.NotNull(await factory.WithDbAsync(db => db.Users.FindAsync(fresh).AsTask()));
        var queued = await factory.WithDbAsync(db => db.Outbox.Where(m => m.UserId == expired).Select(m => m.Kind).ToListAsync());
        Assert.Contains(Timepoint.Identity.Downstream.Outbox.DeleteCredits, queued);
    }

    [Fact]
    public async Task Demo_sign_in_beyond_the_live_demo_user_cap_is_503_with_retry_after_and_creates_no_user()
    {
        using var client = factory.CreateClient();
        await DemoSignInAsync(client);
        var live = await factory.WithDbAsync(db => db.ExternalLogins.CountAsync(l => l.Provider == "demo"));
        using var capped = factory.WithWebHostBuilder(builder => builder.UseSetting("Identity:Demo:MaxUsers", live.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var cappedClient = capped.CreateClient();
        var users = await factory.WithDbAsync(db => db.Users.CountAsync());

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/demo");
        // A client address of its own, signed as the edge signs it: the demo limit counts per address, in Redis.
        request.FromClient(factory.GatewaySecret, $"198.18.{Random.Shared.Next(0, 256)}.{Random.Shared.Next(1, 255)}");
        using var response = await cappedClient.SendAsync(request);

        await Problem.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
        Assert.Equal(users, await factory.WithDbAsync(db => db.Users.CountAsync()));
    }

    private async Task<HttpResponseMessage> AdminPostAsync(HttpClient client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Add("X-Admin-Key", factory.AdminKey);
        return await client.SendAsync(request);
    }

    private async Task<TokenPairDto> DemoSignInAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/demo")
            .FromClient(factory.GatewaySecret, $"198.51.100.{Random.Shared.Next(1, 250)}");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<TokenPairDto>(IdentityFactory.Json))!;
    }

    private static Guid Subject(TokenPairDto pair) => Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);
}
