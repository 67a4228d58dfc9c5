using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
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
    public async Task Resetting_demo_data_deletes_the_demo_user_and_the_next_demo_sign_in_starts_fresh()
    {
        using var client = factory.CreateClient();
        var before = await DemoSignInAsync(client);

        using var reset = await AdminPostAsync(client, "/internal/identity/admin/demo/reset");

        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        var body = await reset.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(Subject(before), body.GetProperty("deleted_user_id").GetGuid());
        using var refresh = await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = before.RefreshToken });
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
        // The deletion of its credits and timepoints is queued like any account deletion's.
        var demoId = Subject(before);
        var queued = await factory.WithDbAsync(db => db.Outbox.Where(m => m.UserId == demoId).Select(m => m.Kind).ToListAsync());
        Assert.Contains(Timepoint.Identity.Downstream.Outbox.DeleteCredits, queued);
        Assert.Contains(Timepoint.Identity.Downstream.Outbox.DeleteFlash, queued);

        var after = await DemoSignInAsync(client);
        Assert.NotEqual(Subject(before), Subject(after));
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
