using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Timepoint.Identity.Downstream;

namespace Timepoint.Identity.Tests;

public sealed class AccountTests(IdentityFactory factory) : IClassFixture<IdentityFactory>
{
    [Fact]
    public async Task Demo_sign_in_is_limited_to_10_a_minute_per_client_address()
    {
        using var client = factory.CreateClient();
        var address = $"203.0.113.{Random.Shared.Next(1, 250)}";
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? last = null;
        for (var i = 0; i < 11; i++)
        {
            last?.Dispose();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/demo");
            request.FromClient(factory.GatewaySecret, address);
            last = await client.SendAsync(request);
            statuses.Add(last.StatusCode);
        }

        Assert.All(statuses.Take(10), s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[10]);
        Assert.True(last!.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal("rate_limited", (await last.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        last.Dispose();

        using var other = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/demo");
        other.FromClient(factory.GatewaySecret, "192.0.2.77");
        using var otherResponse = await client.SendAsync(other);
        Assert.Equal(HttpStatusCode.OK, otherResponse.StatusCode);
    }

    [Fact]
    public async Task A_forwarded_for_the_edge_did_not_sign_is_not_believed()
    {
        // Straight to identity, a client that names a fresh address each time is counted on its connection: the demo limit
        // (10 a minute) still holds it. One that signs an address with a guessed secret, or carries another address's
        // signature, is refused outright (v2: a signature that does not match is 403, whatever the route).
        using var client = factory.CreateClient();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 11; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/demo");
            request.Headers.Add("X-Forwarded-For", $"203.0.113.{i + 1}");
            using var response = await client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);

        using var guessed = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/demo").FromClient("not-the-gateway-secret-0123456789abcdef", "203.0.113.50");
        using var guessedResponse = await client.SendAsync(guessed);
        await Problem.AssertAsync(guessedResponse, HttpStatusCode.Forbidden, "auth.forbidden");

        using var moved = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/demo").FromClient(factory.GatewaySecret, "192.0.2.200");
        moved.Headers.Remove(GatewayHeaders.ForwardedFor);
        moved.Headers.Add(GatewayHeaders.ForwardedFor, "203.0.113.51");
        using var movedResponse = await client.SendAsync(moved);
        await Problem.AssertAsync(movedResponse, HttpStatusCode.Forbidden, "auth.forbidden");
    }

    [Fact]
    public async Task Profile_is_read_and_patch_changes_only_name_and_avatar()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);

        using var patch = new HttpRequestMessage(HttpMethod.Patch, "/api/v1/users/me")
        {
            Content = JsonContent.Create(new { display_name = "Ada Lovelace", avatar_url = "https://img.test/ada.png" }),
        }.Signed(factory.GatewaySecret, user);
        using var patched = await client.SendAsync(patch);

        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var profile = await GetMeAsync(client, user);
        Assert.Equal("Ada Lovelace", profile.GetProperty("display_name").GetString());
        Assert.Equal("https://img.test/ada.png", profile.GetProperty("avatar_url").GetString());
        Assert.Equal("free", profile.GetProperty("tier").GetString());
    }

    [Theory]
    [InlineData("{\"tier\":\"enterprise\"}")]
    [InlineData("{\"display_name\":\"New\",\"email\":\"evil@example.test\"}")]
    [InlineData("{\"display_name\":\"New\",\"id\":\"00000000-0000-0000-0000-000000000001\"}")]
    [InlineData("{\"disabled\":false,\"display_name\":\"New\"}")]
    [InlineData("{\"display_name\":\"\"}")]
    [InlineData("{\"avatar_url\":\"javascript:alert(1)\"}")]
    public async Task Patch_refuses_anything_else_and_changes_nothing(string json)
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);
        var before = await GetMeAsync(client, user);

        using var patch = new HttpRequestMessage(HttpMethod.Patch, "/api/v1/users/me")
        {
            Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json"),
        }.Signed(factory.GatewaySecret, user);
        using var response = await client.SendAsync(patch);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("validation_failed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(before.ToString(), (await GetMeAsync(client, user)).ToString());
    }

    [Fact]
    public async Task Profile_without_a_gateway_identity_is_401_and_with_a_forged_one_403()
    {
        using var client = factory.CreateClient();

        using var anonymous = await client.GetAsync("/api/v1/users/me");
        using var forged = new HttpRequestMessage(HttpMethod.Get, "/api/v1/users/me");
        forged.Headers.Add("X-User-ID", Guid.NewGuid().ToString());
        forged.Headers.Add("X-Gateway-Timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        forged.Headers.Add("X-Gateway-Signature", "v1=" + new string('0', 64));
        using var forgedResponse = await client.SendAsync(forged);
        using var stale = new HttpRequestMessage(HttpMethod.Get, "/api/v1/users/me")
            .Signed(factory.GatewaySecret, Guid.NewGuid(), at: DateTimeOffset.UtcNow.AddMinutes(-10));
        using var staleResponse = await client.SendAsync(stale);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("auth.missing", (await anonymous.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, forgedResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, staleResponse.StatusCode);
    }

    [Fact]
    public async Task A_new_user_queues_exactly_one_signup_bonus()
    {
        using var client = factory.CreateClient();
        var email = $"bonus-{Guid.NewGuid():N}@example.test";
        var user = await NewUserAsync(client, email);
        await NewUserAsync(client, email); // the same person signing in again

        var queued = await factory.WithDbAsync(db => db.Outbox.CountAsync(m => m.UserId == user && m.Kind == Outbox.SignupBonus));

        Assert.Equal(1, queued);
    }

    [Fact]
    public async Task Deleting_the_account_removes_it_ends_sessions_and_queues_deletion_elsewhere()
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        var user = Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);

        using var delete = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/auth/me").Signed(factory.GatewaySecret, user);
        using var response = await client.SendAsync(delete);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using var me = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/v1/auth/me").Signed(factory.GatewaySecret, user));
        Assert.Equal(HttpStatusCode.NotFound, me.StatusCode);
        using var refresh = await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = pair.RefreshToken });
        Assert.False(refresh.IsSuccessStatusCode);
        // credits, flash and pro are unreachable in this test: the deletions wait in the outbox, never lost.
        var kinds = await factory.WithDbAsync(db => db.Outbox.Where(m => m.UserId == user).Select(m => m.Kind).ToListAsync());
        Assert.Contains(Outbox.DeleteCredits, kinds);
        Assert.Contains(Outbox.DeleteFlash, kinds);
        Assert.Contains(Outbox.DeletePro, kinds);
    }

    [Fact]
    public async Task The_export_is_503_with_nothing_partial_when_the_other_services_cannot_answer()
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        var user = Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);

        // credits, flash and pro are unreachable in these tests: an export without their data would not be everything.
        using var export = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/v1/users/me/export").Signed(factory.GatewaySecret, user));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, export.StatusCode);
        Assert.NotNull(export.Headers.RetryAfter);
        var problem = await export.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("upstream_unavailable", problem.GetProperty("code").GetString());
        Assert.False(problem.TryGetProperty("profile", out _));
    }

    [Fact]
    public async Task Resolve_needs_the_service_key_and_links_only_through_a_verified_email()
    {
        using var client = factory.CreateClient();
        var email = $"link-{Guid.NewGuid():N}@example.test";
        var owner = await NewUserAsync(client, email);

        var unverified = await ResolveAsync(client, factory.ServiceKey, new { provider = "github", external_id = Guid.NewGuid().ToString(), email });
        var verified = await ResolveAsync(client, factory.ServiceKey,
            new { provider = "google", external_id = Guid.NewGuid().ToString(), email, email_verified = true });
        var noKey = await ResolveAsync(client, null, new { provider = "google", external_id = "x" });
        var wrongKey = await ResolveAsync(client, "wrong-key", new { provider = "google", external_id = "x" });

        Assert.Equal(HttpStatusCode.OK, unverified.Status);
        Assert.NotEqual(owner, unverified.Body.GetProperty("user_id").GetGuid());
        Assert.True(unverified.Body.GetProperty("created").GetBoolean());
        Assert.Equal(owner, verified.Body.GetProperty("user_id").GetGuid());
        Assert.False(verified.Body.GetProperty("created").GetBoolean());
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.Status);
        Assert.Equal(HttpStatusCode.Forbidden, wrongKey.Status);
    }

    [Fact]
    public async Task Admin_token_routes_need_identitys_admin_key()
    {
        using var client = factory.CreateClient();

        using var missing = await client.PostAsJsonAsync("/api/v1/auth/dev/token", new { email = "a@example.test" });
        using var wrong = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/service-token")
        {
            Content = JsonContent.Create(new { user_id = Guid.NewGuid() }),
        };
        wrong.Headers.Add("X-Admin-Key", factory.ServiceKey);
        using var wrongResponse = await client.SendAsync(wrong);

        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, wrongResponse.StatusCode);
    }

    [Fact]
    public async Task Service_token_acts_as_an_existing_user_only()
    {
        using var client = factory.CreateClient();
        var user = await NewUserAsync(client);

        var known = await ServiceTokenAsync(client, user);
        var unknown = await ServiceTokenAsync(client, Guid.NewGuid());

        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        var token = (await known.Content.ReadFromJsonAsync<TokenPairDto>(IdentityFactory.Json))!;
        Assert.Equal(user.ToString(), new JsonWebToken(token.AccessToken).Subject);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    private async Task<HttpResponseMessage> ServiceTokenAsync(HttpClient client, Guid user)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/service-token")
        {
            Content = JsonContent.Create(new { user_id = user }),
        };
        request.Headers.Add("X-Admin-Key", factory.AdminKey);
        return await client.SendAsync(request);
    }

    public static TheoryData<string> UnkeepableText => ["abc\\u0000def", "\\ud800", "x\\udfffy", "\\ud800\\u0000"];

    [Theory]
    [MemberData(nameof(UnkeepableText))]
    public async Task Nul_or_a_lone_surrogate_in_any_field_is_a_400_naming_the_field_and_changes_nothing(string escaped)
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        var user = Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);
        var form = escaped.Replace("\\u0000", "%00", StringComparison.Ordinal).Replace("\\ud800", "%ED%A0%80", StringComparison.Ordinal);
        var cases = new (HttpMethod Method, string Path, string? Json, string? Form, bool Signed, string Field)[]
        {
            (HttpMethod.Post, "/api/v1/auth/refresh", $"{{\"refresh_token\":\"{escaped}\"}}", null, false, "refresh_token"),
            (HttpMethod.Post, "/api/v1/auth/demo", $"{{\"anything\":\"{escaped}\"}}", null, false, "anything"),
            (HttpMethod.Post, "/api/v1/auth/google", $"{{\"id_token\":\"{escaped}\"}}", null, false, "id_token"),
            (HttpMethod.Post, "/api/v1/auth/apple", $"{{\"identity_token\":\"a\",\"nonce\":\"{escaped}\"}}", null, false, "nonce"),
            (HttpMethod.Post, "/api/v1/auth/github", $"{{\"code\":\"{escaped}\",\"redirect_uri\":\"x\"}}", null, false, "code"),
            (HttpMethod.Post, "/connect/token", null, $"grant_type=refresh_token&refresh_token={form}", false, "refresh_token"),
            (HttpMethod.Post, "/connect/revoke", null, $"token={form}", false, "token"),
            (HttpMethod.Patch, "/api/v1/users/me", $"{{\"display_name\":\"{escaped}\"}}", null, true, "display_name"),
            (HttpMethod.Post, "/api/v1/auth/api-keys", $"{{\"name\":\"ok\",\"scopes\":[\"read\",\"{escaped}\"]}}", null, true, "scopes"),
            (HttpMethod.Post, "/api/v1/auth/api-keys", $"{{\"{escaped}\":\"member name\"}}", null, true, "body"),
            (HttpMethod.Get, $"/api/v1/auth/google/callback?code={form}&state=s", null, null, false, "code"),
        };
        var before = await GetMeAsync(client, user);

        foreach (var (method, path, json, formBody, signed, field) in cases)
        {
            if (json is null && !escaped.Contains("u0000", StringComparison.Ordinal))
            {
                continue; // %ED%A0%80 in a form or query decodes to U+FFFD, which is keepable text
            }

            using var request = new HttpRequestMessage(method, path);
            var address = $"198.18.0.{Random.Shared.Next(1, 250)}";
            request.Content = json is not null ? new StringContent(json, System.Text.Encoding.UTF8, "application/json")
                : formBody is not null ? new StringContent(formBody, System.Text.Encoding.UTF8, "application/x-www-form-urlencoded") : null;
            using var response = await client.SendAsync(signed ? request.Signed(factory.GatewaySecret, user, clientAddress: address)
                : request.FromClient(factory.GatewaySecret, address));

            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {path}: {(int)response.StatusCode} {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(body).RootElement;
            Assert.Equal("validation_failed", problem.GetProperty("code").GetString());
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{method} {path}: {body}");
        }

        Assert.Equal(before.GetRawText(), (await GetMeAsync(client, user)).GetRawText());
        Assert.Equal(0, await factory.WithDbAsync(db => db.ApiKeys.CountAsync(k => k.UserId == user)));
    }

    [Theory]
    [InlineData("/api/v1/auth/demo/callback")]
    [InlineData("/api/v1/auth/anything/callback?code=a&state=b")]
    [InlineData("/api/v1/auth/connect/callback")]
    public async Task A_callback_of_no_provider_is_404_not_500(string path)
    {
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(path);

        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    private async Task<Guid> NewUserAsync(HttpClient client, string? email = null) =>
        Guid.Parse(new JsonWebToken((await factory.DevTokenAsync(client, email)).AccessToken).Subject);

    private async Task<JsonElement> GetMeAsync(HttpClient client, Guid user)
    {
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/v1/users/me").Signed(factory.GatewaySecret, user));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> ResolveAsync(HttpClient client, string? key, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/users/resolve") { Content = JsonContent.Create(body) };
        if (key is not null)
        {
            request.Headers.Add("X-Service-Key", key);
        }

        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }
}

public sealed class ProductionDemoTests : IAsyncLifetime
{
    private readonly IdentityFactory factory = new() { Environment = "Production" };

    public Task InitializeAsync() => ((IAsyncLifetime)factory).InitializeAsync();

    public Task DisposeAsync() => ((IAsyncLifetime)factory).DisposeAsync();

    [Fact]
    public async Task Demo_sign_in_is_off_in_production_unless_enabled()
    {
        using var client = factory.CreateClient();

        // A client address of its own (the demo limit counts per address, in the Redis every test shares).
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/demo")
            .FromClient(factory.GatewaySecret, $"198.18.{Random.Shared.Next(0, 256)}.{Random.Shared.Next(1, 255)}");
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("auth.forbidden", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }
}
