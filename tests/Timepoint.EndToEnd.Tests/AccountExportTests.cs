using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Timepoint.EndToEnd.Tests;

/// <summary>The account's data across services, through the edge: exported as one document, deleted everywhere.</summary>
[Collection(PlatformCollection.Name)]
public sealed class AccountExportTests(PlatformFixture platform)
{
    [Fact]
    public async Task The_export_holds_the_profile_keys_without_secrets_the_ledger_and_the_timepoints()
    {
        var user = await platform.NewUserAsync();
        using var generated = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync",
            new { query = "The signing of Magna Carta 1215" }));
        var timepoint = (await generated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var simulation = await SimulateAsync(user);
        using var keyCreated = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/auth/api-keys",
            new { name = "export check", scopes = new[] { "read" } }));
        var key = await keyCreated.Content.ReadFromJsonAsync<JsonElement>();
        var secret = key.GetProperty("key").GetString()!;

        using var response = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Get, "/api/v1/users/me/export"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, generated.StatusCode);
        Assert.Equal(HttpStatusCode.Created, keyCreated.StatusCode);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var export = JsonDocument.Parse(text).RootElement;
        Assert.Equal(user.UserId, export.GetProperty("profile").GetProperty("id").GetGuid());
        Assert.Equal(key.GetProperty("id").GetGuid(), Assert.Single(export.GetProperty("api_keys").EnumerateArray()).GetProperty("id").GetGuid());
        Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        // Nor its stored form (a SHA-256 of the key, hex).
        Assert.DoesNotContain(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret))), text, StringComparison.OrdinalIgnoreCase);
        var credits = export.GetProperty("credits");
        Assert.Equal(30, credits.GetProperty("balance").GetProperty("balance").GetInt64()); // 50 - 5 (generate) - 15 (simulation)
        var ledger = credits.GetProperty("ledger").EnumerateArray().ToList();
        Assert.Equal(30, ledger.Sum(e => e.GetProperty("amount").GetInt64()));
        Assert.Contains(ledger, e => e.GetProperty("type").GetString() == "signup_bonus");
        Assert.Equal(timepoint, Assert.Single(export.GetProperty("timepoints").EnumerateArray()).GetProperty("id").GetGuid());
        Assert.Equal(simulation, Assert.Single(export.GetProperty("simulations").EnumerateArray()).GetProperty("job_id").GetGuid());
    }

    [Fact]
    public async Task Deleting_the_account_deletes_its_data_in_credits_flash_and_pro()
    {
        var user = await platform.NewUserAsync();
        using var generated = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync",
            new { query = "The opening of the Suez Canal 1869" }));
        Assert.Equal(HttpStatusCode.OK, generated.StatusCode);
        await SimulateAsync(user);
        Assert.Single(await ProSimulationsAsync(user));
        Assert.True(await RowsAsync("creditsdb", "SELECT count(*) FROM ledger WHERE user_id = $1", user.UserId) > 0);
        Assert.Equal(1, await RowsAsync("flashdb", "SELECT count(*) FROM timepoints WHERE owner_id = $1", user.UserId));

        using var deleted = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Delete, "/api/v1/auth/me"));

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        // Identity's outbox delivers the deletions just after the answer.
        for (var i = 0; i < 100 && (await RowsAsync("creditsdb", "SELECT count(*) FROM ledger WHERE user_id = $1", user.UserId) > 0
            || await RowsAsync("flashdb", "SELECT count(*) FROM timepoints WHERE owner_id = $1", user.UserId) > 0
            || (await ProSimulationsAsync(user)).Count > 0); i++)
        {
            await Task.Delay(200);
        }

        Assert.Equal(0, await RowsAsync("creditsdb", "SELECT count(*) FROM ledger WHERE user_id = $1", user.UserId));
        Assert.Equal(0, await RowsAsync("creditsdb", "SELECT count(*) FROM reservations WHERE user_id = $1", user.UserId));
        Assert.Equal(0, await RowsAsync("flashdb", "SELECT count(*) FROM timepoints WHERE owner_id = $1", user.UserId));
        Assert.Empty(await ProSimulationsAsync(user));
        // The deleted user's token is refused at the edge within seconds (issue 18): 401 auth.token_revoked, never an export.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            using var export = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Get, "/api/v1/users/me/export"));
            Assert.NotEqual(HttpStatusCode.OK, export.StatusCode);
            if (export.StatusCode == HttpStatusCode.Unauthorized)
            {
                Assert.Equal("auth.token_revoked", (await export.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the deleted user's token still reaches identity ({(int)export.StatusCode}) after 5 s");
            await Task.Delay(100);
        }
    }

    private async Task<Guid> SimulateAsync(TokenPair user)
    {
        using var response = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/conductor/pro/simulate",
            new { template = "board_meeting", prompt = "Should we open an office in Lisbon?", mode = "pearl", fidelity = 2 }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetGuid();
    }

    /// <summary>What pro itself holds about the user (asked directly, with pro's service key).</summary>
    private async Task<List<JsonElement>> ProSimulationsAsync(TokenPair user)
    {
        using var pro = platform.App.CreateHttpClient("pro");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/internal/users/{user.UserId}/export");
        request.Headers.Add("X-Service-Key", await platform.ParameterAsync("pro-service-key"));
        using var response = await pro.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("simulations").EnumerateArray()];
    }

    private async Task<long> RowsAsync(string database, string sql, Guid user)
    {
        await using var connection = new NpgsqlConnection(await platform.App.GetConnectionStringAsync(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = user } } };
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
