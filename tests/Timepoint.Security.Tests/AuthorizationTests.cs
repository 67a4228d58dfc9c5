using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Timepoint.Soak;

namespace Timepoint.Security.Tests;

/// <summary>One user reaching for another's objects, more rights than given, or another method than sent.</summary>
public sealed partial class SecurityTests
{
    [Fact]
    public async Task Another_users_key_cannot_be_revoked_rerolled_or_listed()
    {
        var owner = await platform.NewUserAsync();
        var attacker = await platform.NewUserAsync();
        var (id, key) = await CreateKeyAsync(owner, "read");

        using var reroll = await platform.Gateway.SendAsync(Platform.As(attacker, HttpMethod.Post, $"/api/v1/auth/api-keys/{id}/reroll", new { }));
        using var revoke = await platform.Gateway.SendAsync(Platform.As(attacker, HttpMethod.Delete, $"/api/v1/auth/api-keys/{id}"));
        using var list = await platform.Gateway.SendAsync(Platform.As(attacker, HttpMethod.Get, "/api/v1/auth/api-keys"));

        Assert.Equal(HttpStatusCode.NotFound, reroll.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, revoke.StatusCode);
        Assert.DoesNotContain(id, await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await BalanceStatusWithKeyAsync(key));
    }

    [Fact]
    public async Task Another_users_timepoint_cannot_be_read_deleted_or_listed()
    {
        var owner = await platform.NewUserAsync();
        var attacker = await platform.NewUserAsync();
        using var created = await platform.Gateway.SendAsync(Platform.As(owner, HttpMethod.Post, "/api/v1/timepoints/generate/sync",
            new { query = "A private letter of 1815", visibility = "private" }));
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        using var read = await platform.Gateway.SendAsync(Platform.As(attacker, HttpMethod.Get, $"/api/v1/timepoints/{id}"));
        using var delete = await platform.Gateway.SendAsync(Platform.As(attacker, HttpMethod.Delete, $"/api/v1/timepoints/{id}"));
        using var theirList = await platform.Gateway.SendAsync(Platform.As(attacker, HttpMethod.Get, "/api/v1/users/me/timepoints"));
        using var ownerRead = await platform.Gateway.SendAsync(Platform.As(owner, HttpMethod.Get, $"/api/v1/timepoints/{id}"));

        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.Contains(delete.StatusCode, new[] { HttpStatusCode.NotFound, HttpStatusCode.Forbidden });
        Assert.DoesNotContain(id!, await theirList.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, ownerRead.StatusCode);
    }

    [Theory]
    [InlineData("/api/v1/credits/history?user_id={0}")]
    [InlineData("/api/v1/credits/history?userId={0}&limit=100")]
    [InlineData("/api/v1/credits/balance?user_id={0}")]
    public async Task Another_users_credits_cannot_be_read_by_naming_them(string template)
    {
        var owner = await platform.NewUserAsync();
        var attacker = await platform.NewUserAsync();
        using var spent = await platform.Gateway.SendAsync(Platform.As(owner, HttpMethod.Post, "/api/v1/timepoints/generate/sync",
            new { query = "The owner's own spending 1700" }));
        Assert.Equal(HttpStatusCode.OK, spent.StatusCode);

        using var request = Platform.As(attacker, HttpMethod.Get, string.Format(System.Globalization.CultureInfo.InvariantCulture, template, owner.Id));
        request.Headers.TryAddWithoutValidation("X-User-ID", owner.Id.ToString());
        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        if (body.ValueKind == JsonValueKind.Array)
        {
            Assert.Single(body.EnumerateArray()); // the attacker's own signup bonus, not the owner's generation
        }
        else
        {
            Assert.Equal(50, body.GetProperty("balance").GetInt64()); // the owner has 45
        }
    }

    public static TheoryData<string> MassAssignments => new()
    {
        """{"display_name":"Mallory","id":"00000000-0000-0000-0000-000000000001"}""",
        """{"display_name":"Mallory","email":"admin@timepointai.com"}""",
        """{"display_name":"Mallory","tier":"enterprise"}""",
        """{"display_name":"Mallory","balance":1000000}""",
        """{"display_name":"Mallory","roles":["admin"],"is_admin":true}""",
        """{"display_name":"Mallory","disabled":false,"created_at":"2000-01-01T00:00:00Z"}""",
        """{"display_name":"Mallory","Display_Name":"Eve"}""",
        """{"display_name":"Mallory","display_name":"Eve"}""",
    };

    [Theory]
    [MemberData(nameof(MassAssignments))]
    public async Task Patching_the_profile_with_fields_beyond_name_and_avatar_changes_nothing(string json)
    {
        var user = await platform.NewUserAsync();
        var before = await ProfileAsync(user);

        using var request = Platform.As(user, HttpMethod.Patch, "/api/v1/users/me");
        request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        using var response = await platform.Gateway.SendAsync(request);

        Assert.True(response.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest, $"{(int)response.StatusCode}");
        Assert.Equal("validation_failed", await Edge.CodeAsync(response));
        Assert.Equal(before, await ProfileAsync(user));
        Assert.Equal(50, await Platform.BalanceAsync(platform.Gateway, user));
    }

    [Theory]
    [InlineData("/api/v1/credits/admin/grant")]
    [InlineData("/api/v1/auth/dev/token")]
    [InlineData("/api/v1/auth/service-token")]
    [InlineData("/api/v1/users/resolve")]
    public async Task A_user_token_opens_no_admin_or_service_route(string path)
    {
        var user = await platform.NewUserAsync();
        // A body each route would accept, so that the key check is what refuses it.
        object body = path switch
        {
            "/api/v1/credits/admin/grant" => new { user_id = user.Id, amount = 1000 },
            "/api/v1/auth/dev/token" => new { email = $"sec-{Guid.NewGuid():N}@example.test", display_name = "Mallory" },
            "/api/v1/auth/service-token" => new { user_id = user.Id.ToString() },
            _ => new { provider = "github", external_id = Guid.NewGuid().ToString() },
        };

        using var response = await platform.Gateway.SendAsync(Platform.As(user, HttpMethod.Post, path, body));

        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden });
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("access_token", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(50, await Platform.BalanceAsync(platform.Gateway, user));
    }

    [Theory]
    [InlineData("/api/v1/timepoints/generate/sync")]
    [InlineData("/api/v1/timepoints/generate/stream")]
    [InlineData("/api/v1/timepoints/generate")]
    [InlineData("/api/v1/conductor/pro/simulate")]
    public async Task A_read_key_is_403_on_every_metered_route(string path)
    {
        var user = await platform.NewUserAsync();
        var (_, key) = await CreateKeyAsync(user, "read");
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = JsonContent.Create(new { query = "Read key probe 1900", template = "board_meeting", prompt = "x", mode = "pearl", fidelity = 1 }),
        };
        request.Headers.Add("X-API-Key", key);

        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("auth.forbidden", await Edge.CodeAsync(response));
        Assert.Equal(50, await Platform.BalanceAsync(platform.Gateway, user));
    }

    [Theory]
    [InlineData("X-HTTP-Method-Override")]
    [InlineData("X-HTTP-Method")]
    [InlineData("X-Method-Override")]
    public async Task Method_override_headers_are_ignored(string header)
    {
        var user = await platform.NewUserAsync();
        var (id, key) = await CreateKeyAsync(user, "read");

        // GET /auth/me overridden to DELETE would delete the account; POST reroll overridden to DELETE would revoke the key.
        using var me = Platform.As(user, HttpMethod.Get, "/api/v1/auth/me");
        me.Headers.TryAddWithoutValidation(header, "DELETE");
        using var meResponse = await platform.Gateway.SendAsync(me);
        using var keys = Platform.As(user, HttpMethod.Get, $"/api/v1/auth/api-keys/{id}");
        keys.Headers.TryAddWithoutValidation(header, "DELETE");
        using var keysResponse = await platform.Gateway.SendAsync(keys);

        Assert.Equal(HttpStatusCode.OK, meResponse.StatusCode);
        Assert.Equal(user.Id, (await meResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        Assert.NotEqual(HttpStatusCode.NoContent, keysResponse.StatusCode);
        using var still = await platform.Gateway.SendAsync(Platform.As(user, HttpMethod.Get, "/api/v1/auth/me"));
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await BalanceStatusWithKeyAsync(key));
    }

    [Fact]
    public async Task A_read_key_cannot_write_and_a_write_key_can_through_the_real_edge()
    {
        var user = await platform.NewUserAsync();
        var before = await ProfileAsync(user);
        var (_, read) = await CreateKeyAsync(user); // the default scopes: ["read"]
        var (_, write) = await CreateKeyAsync(user, "write");

        using var readPatch = await WithKeyAsync(read, HttpMethod.Patch, "/api/v1/users/me", new { display_name = "Read key was here" });
        using var readDelete = await WithKeyAsync(read, HttpMethod.Delete, $"/api/v1/timepoints/{Guid.NewGuid()}");
        using var writeRead = await WithKeyAsync(write, HttpMethod.Get, "/api/v1/users/me");
        var unchanged = await ProfileAsync(user);
        using var writePatch = await WithKeyAsync(write, HttpMethod.Patch, "/api/v1/users/me", new { display_name = "Write key was here" });

        Assert.Equal(HttpStatusCode.Forbidden, readPatch.StatusCode);
        Assert.Equal("auth.forbidden", await Edge.CodeAsync(readPatch));
        Assert.Equal(HttpStatusCode.Forbidden, readDelete.StatusCode);
        Assert.Equal("auth.forbidden", await Edge.CodeAsync(readDelete));
        Assert.Equal(HttpStatusCode.Forbidden, writeRead.StatusCode);
        Assert.Equal(before, unchanged);
        Assert.Equal(HttpStatusCode.OK, writePatch.StatusCode);
        Assert.Contains("Write key was here", await ProfileAsync(user));
    }

    private async Task<HttpResponseMessage> WithKeyAsync(string key, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("X-API-Key", key);
        return await platform.Gateway.SendAsync(request);
    }

    private async Task<string> ProfileAsync(User user)
    {
        using var response = await platform.Gateway.SendAsync(Platform.As(user, HttpMethod.Get, "/api/v1/users/me"));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    private async Task<(string Id, string Key)> CreateKeyAsync(User user, params string[] scopes)
    {
        object request = scopes.Length == 0 ? new { name = "security" } : new { name = "security", scopes };
        using var created = await platform.Gateway.SendAsync(Platform.As(user, HttpMethod.Post, "/api/v1/auth/api-keys", request));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("id").GetString()!, body.GetProperty("key").GetString()!);
    }

    private async Task<HttpStatusCode> BalanceStatusWithKeyAsync(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Add("X-API-Key", key);
        using var response = await platform.Gateway.SendAsync(request);
        return response.StatusCode;
    }
}
