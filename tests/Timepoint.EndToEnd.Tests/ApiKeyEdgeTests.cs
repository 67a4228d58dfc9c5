using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.EndToEnd.Tests;

/// <summary>API keys as an external developer uses them: created with a JWT, then sent as X-API-Key or Bearer.</summary>
[Collection(PlatformCollection.Name)]
public sealed class ApiKeyEdgeTests(PlatformFixture platform)
{
    [Fact]
    public async Task Seed_example_generate_sync_with_an_api_key_works()
    {
        var user = await platform.NewUserAsync();
        var key = await CreateKeyAsync(user, "read", "generate");

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync")
        {
            Content = JsonContent.Create(new { query = "Moon landing, July 20 1969" }),
        };
        request.Headers.Add("X-API-Key", key);
        using var response = await platform.Gateway.SendAsync(request);
        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        bearer.Headers.Authorization = new("Bearer", key);
        using var balance = await platform.Gateway.SendAsync(bearer);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, balance.StatusCode);
        Assert.Equal(45, (await balance.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("balance").GetInt64());
    }

    [Fact]
    public async Task A_revoked_key_is_refused_within_seconds()
    {
        var user = await platform.NewUserAsync();
        var key = await CreateKeyAsync(user, "read");
        Assert.Equal(HttpStatusCode.OK, await BalanceStatusAsync(key)); // the verdict is now cached at the edge
        var id = (await ListAsync(user)).Single().GetProperty("id").GetString();

        using var revoke = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Delete, $"/api/v1/auth/api-keys/{id}"));
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);

        var deadline = DateTime.UtcNow.AddSeconds(5);
        var status = HttpStatusCode.OK;
        while (DateTime.UtcNow < deadline && status == HttpStatusCode.OK)
        {
            status = await BalanceStatusAsync(key);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task A_rerolled_key_works_and_the_old_one_keeps_working_through_its_grace()
    {
        var user = await platform.NewUserAsync();
        var old = await CreateKeyAsync(user, "read");
        var id = (await ListAsync(user)).Single().GetProperty("id").GetString();

        using var reroll = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, $"/api/v1/auth/api-keys/{id}/reroll",
            new { grace_seconds = 3600 }));
        var fresh = (await reroll.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;

        Assert.Equal(HttpStatusCode.OK, reroll.StatusCode);
        Assert.NotEqual(old, fresh);
        Assert.Equal(HttpStatusCode.OK, await BalanceStatusAsync(fresh));
        Assert.Equal(HttpStatusCode.OK, await BalanceStatusAsync(old));
    }

    [Fact]
    public async Task A_read_key_cannot_call_metered_routes_nor_manage_keys()
    {
        var user = await platform.NewUserAsync();
        var key = await CreateKeyAsync(user, "read");

        using var generate = new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync")
        {
            Content = JsonContent.Create(new { query = "Apollo 13 1970" }),
        };
        generate.Headers.Add("X-API-Key", key);
        using var generated = await platform.Gateway.SendAsync(generate);
        using var list = new HttpRequestMessage(HttpMethod.Get, "/api/v1/auth/api-keys");
        list.Headers.Add("X-API-Key", key);
        using var listed = await platform.Gateway.SendAsync(list);

        Assert.Equal(HttpStatusCode.Forbidden, generated.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, listed.StatusCode);
    }

    [Theory]
    [InlineData("tp_gw_")]
    [InlineData("tp_gw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("sk_live_0123456789")]
    public async Task Malformed_keys_are_401_key_invalid(string key)
    {
        using var response = await BalanceAsync(key);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("auth.key_invalid", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task One_users_keys_are_invisible_to_another()
    {
        var owner = await platform.NewUserAsync();
        var other = await platform.NewUserAsync();
        await CreateKeyAsync(owner, "read");
        var id = (await ListAsync(owner)).Single().GetProperty("id").GetString();

        using var revoke = await platform.Gateway.SendAsync(PlatformFixture.As(other, HttpMethod.Delete, $"/api/v1/auth/api-keys/{id}"));

        Assert.Empty(await ListAsync(other));
        Assert.Equal(HttpStatusCode.NotFound, revoke.StatusCode);
        Assert.Null((await ListAsync(owner)).Single().GetProperty("revoked_at").GetString());
    }

    private async Task<string> CreateKeyAsync(TokenPair user, params string[] scopes)
    {
        using var response = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/auth/api-keys",
            new { name = "e2e", scopes }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
    }

    private async Task<List<JsonElement>> ListAsync(TokenPair user)
    {
        using var response = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Get, "/api/v1/auth/api-keys"));
        response.EnsureSuccessStatusCode();
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()];
    }

    private Task<HttpResponseMessage> BalanceAsync(string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Add("X-API-Key", key);
        return platform.Gateway.SendAsync(request);
    }

    private async Task<HttpStatusCode> BalanceStatusAsync(string key)
    {
        using var response = await BalanceAsync(key);
        return response.StatusCode;
    }
}
