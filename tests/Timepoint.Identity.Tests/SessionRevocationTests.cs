using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Timepoint.Identity.Tests;

/// <summary>
/// What identity lists for the edge (GET /internal/identity/sessions/revoked): the session (<c>oi_au_id</c>) of every token
/// that must stop before it expires, and only those.
/// </summary>
public sealed class SessionRevocationTests(IdentityFactory factory) : IClassFixture<IdentityFactory>
{
    [Fact]
    public async Task Logout_lists_that_session_only_and_the_users_other_session_keeps_refreshing()
    {
        using var client = factory.CreateClient();
        var email = $"two-devices-{Guid.NewGuid():N}@example.test";
        var phone = await factory.DevTokenAsync(client, email);
        var laptop = await factory.DevTokenAsync(client, email);
        var (user, phoneSession) = (Subject(phone), Session(phone));
        Assert.NotEqual(phoneSession, Session(laptop));

        using var logout = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout").Signed(factory.GatewaySecret, user, sessionId: phoneSession);
        using (var response = await client.SendAsync(logout))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var listed = await ListedAsync(client);
        Assert.Contains(phoneSession, listed.Keys);
        Assert.DoesNotContain(Session(laptop), listed.Keys);
        Assert.InRange(listed[phoneSession], DateTimeOffset.UtcNow.AddMinutes(15), DateTimeOffset.UtcNow.AddMinutes(17));
        using var phoneRefresh = await RefreshAsync(client, phone.RefreshToken);
        using var laptopRefresh = await RefreshAsync(client, laptop.RefreshToken);
        Assert.Equal(HttpStatusCode.Unauthorized, phoneRefresh.StatusCode);
        Assert.Equal(HttpStatusCode.OK, laptopRefresh.StatusCode);
    }

    [Fact]
    public async Task Logout_naming_another_users_session_ends_only_the_callers_own_sessions()
    {
        using var client = factory.CreateClient();
        var victim = await factory.DevTokenAsync(client);
        var caller = await factory.DevTokenAsync(client);

        using var logout = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout").Signed(factory.GatewaySecret, Subject(caller), sessionId: Session(victim));
        using var response = await client.SendAsync(logout);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var listed = await ListedAsync(client);
        Assert.DoesNotContain(Session(victim), listed.Keys);
        Assert.Contains(Session(caller), listed.Keys);
        using var victimRefresh = await RefreshAsync(client, victim.RefreshToken);
        Assert.Equal(HttpStatusCode.OK, victimRefresh.StatusCode);
    }

    [Fact]
    public async Task A_reused_refresh_token_lists_its_whole_family()
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        using var first = await RefreshAsync(client, pair.RefreshToken);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var rotated = (await first.Content.ReadFromJsonAsync<TokenPairDto>(IdentityFactory.Json))!;
        Assert.Equal(Session(pair), Session(rotated)); // one session across refreshes

        using var reuse = await RefreshAsync(client, pair.RefreshToken);

        Assert.Equal(HttpStatusCode.Unauthorized, reuse.StatusCode);
        Assert.Contains(Session(pair), (await ListedAsync(client)).Keys);
        using var stolenChain = await RefreshAsync(client, rotated.RefreshToken);
        Assert.Equal(HttpStatusCode.Unauthorized, stolenChain.StatusCode);
    }

    [Fact]
    public async Task Disabling_a_user_lists_every_session_refuses_sign_in_and_refresh_and_enabling_lets_a_new_session_work()
    {
        using var client = factory.CreateClient();
        var email = $"disabled-{Guid.NewGuid():N}@example.test";
        var a = await factory.DevTokenAsync(client, email);
        var b = await factory.DevTokenAsync(client, email);
        var user = Subject(a);

        using var disable = await PatchAsync(client, user, new { disabled = true });
        Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        var view = await disable.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(view.GetProperty("disabled").GetBoolean());
        Assert.Equal(email, view.GetProperty("email").GetString());
        Assert.Equal(["dev"], view.GetProperty("providers").EnumerateArray().Select(p => p.GetString()));

        var listed = await ListedAsync(client);
        Assert.Contains(Session(a), listed.Keys);
        Assert.Contains(Session(b), listed.Keys);
        using var refresh = await RefreshAsync(client, b.RefreshToken);
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
        using var signIn = await DevTokenResponseAsync(client, email);
        Assert.Equal(HttpStatusCode.Unauthorized, signIn.StatusCode);
        Assert.Equal("auth.token_revoked", (await signIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());

        using var enable = await PatchAsync(client, user, new { disabled = false });
        Assert.False((await enable.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("disabled").GetBoolean());
        var fresh = await factory.DevTokenAsync(client, email);
        Assert.DoesNotContain(Session(fresh), (await ListedAsync(client)).Keys);
    }

    [Fact]
    public async Task Deleting_an_account_lists_its_sessions_and_they_stay_listed_after_the_user_is_gone()
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        using var delete = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/auth/me").Signed(factory.GatewaySecret, Subject(pair));

        using var response = await client.SendAsync(delete);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Contains(Session(pair), (await ListedAsync(client)).Keys);
    }

    [Theory]
    [InlineData("""{"disabled":"yes"}""", "disabled")]
    [InlineData("""{"disabled":true,"email":"x@example.test"}""", "email")]
    [InlineData("""{"is_admin":true}""", "is_admin")]
    [InlineData("""{"disabled":true,"disabled":false}""", "disabled")]
    public async Task A_patch_with_other_members_or_wrong_types_is_422_naming_the_field_and_changes_nothing(string body, string field)
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        var user = Subject(pair);

        using var request = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/users/admin/{user}")
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Admin-Key", factory.AdminKey);
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
        Assert.False(await factory.WithDbAsync(db => db.Users.Where(u => u.Id == user).Select(u => u.Disabled).SingleAsync()));
        Assert.DoesNotContain(Session(pair), (await ListedAsync(client)).Keys);
    }

    [Fact]
    public async Task The_admin_view_is_found_by_id_and_exact_email_and_unknown_users_are_404()
    {
        using var client = factory.CreateClient();
        var email = $"Found-{Guid.NewGuid():N}@example.test".ToLowerInvariant();
        var user = Subject(await factory.DevTokenAsync(client, email));

        using var byId = await AdminGetAsync(client, $"/api/v1/users/admin/{user}");
        using var byEmail = await AdminGetAsync(client, $"/api/v1/users/admin?email={Uri.EscapeDataString(email)}");
        using var unknown = await AdminGetAsync(client, $"/api/v1/users/admin/{Guid.NewGuid()}");
        using var unknownPatch = await PatchAsync(client, Guid.NewGuid(), new { disabled = true });
        using var noKey = await client.GetAsync($"/api/v1/users/admin/{user}");

        Assert.Equal(HttpStatusCode.OK, byId.StatusCode);
        var view = await byId.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["api_key_count", "created_at", "disabled", "display_name", "email", "id", "last_seen_at", "providers", "tier"],
            view.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(user, (await byEmail.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknownPatch.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
    }

    [Fact]
    public async Task The_list_needs_identitys_service_key_and_reads_incrementally_from_its_cursor()
    {
        using var client = factory.CreateClient();
        using var anonymous = await client.GetAsync("/internal/identity/sessions/revoked");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        var first = await ListAsync(client, null);
        var pair = await factory.DevTokenAsync(client);
        using var logout = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout").Signed(factory.GatewaySecret, Subject(pair), sessionId: Session(pair));
        (await client.SendAsync(logout)).Dispose();

        var next = await ListAsync(client, first.GetProperty("cursor").GetString());
        Assert.Contains(Session(pair), next.GetProperty("revocations").EnumerateArray().Select(r => r.GetProperty("session").GetString()));
        using var bad = await ServiceGetAsync(client, "/internal/identity/sessions/revoked?since=yesterday");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
    }

    private static Guid Subject(TokenPairDto pair) => Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);

    private static string Session(TokenPairDto pair) => new JsonWebToken(pair.AccessToken).GetClaim("oi_au_id").Value;

    private static Task<HttpResponseMessage> RefreshAsync(HttpClient client, string refreshToken) =>
        client.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = refreshToken });

    private async Task<Dictionary<string, DateTimeOffset>> ListedAsync(HttpClient client) =>
        (await ListAsync(client, null)).GetProperty("revocations").EnumerateArray()
            .ToDictionary(r => r.GetProperty("session").GetString()!, r => r.GetProperty("expires_at").GetDateTimeOffset());

    private async Task<JsonElement> ListAsync(HttpClient client, string? since)
    {
        using var response = await ServiceGetAsync(client,
            "/internal/identity/sessions/revoked" + (since is null ? "" : $"?since={Uri.EscapeDataString(since)}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<HttpResponseMessage> ServiceGetAsync(HttpClient client, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Service-Key", factory.ServiceKey);
        return client.SendAsync(request);
    }

    private Task<HttpResponseMessage> AdminGetAsync(HttpClient client, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Admin-Key", factory.AdminKey);
        return client.SendAsync(request);
    }

    private Task<HttpResponseMessage> PatchAsync(HttpClient client, Guid user, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/users/admin/{user}") { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Admin-Key", factory.AdminKey);
        return client.SendAsync(request);
    }

    private Task<HttpResponseMessage> DevTokenResponseAsync(HttpClient client, string email)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/dev/token") { Content = JsonContent.Create(new { email }) };
        request.Headers.Add("X-Admin-Key", factory.AdminKey);
        return client.SendAsync(request);
    }
}
