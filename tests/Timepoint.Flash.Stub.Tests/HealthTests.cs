using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace Timepoint.Flash.Stub.Tests;

public sealed class HealthTests : IAsyncLifetime
{
    private readonly ServiceFactory<Program> factory = new();

    public Task InitializeAsync() => factory.UseDatabaseAsync("flashdb");

    public Task DisposeAsync() => factory.DisposeAsync().AsTask();

    [Fact]
    public async Task Health_reports_the_database_and_providers()
    {
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("healthy", body.GetProperty("status").GetString());
        Assert.True(body.GetProperty("database").GetBoolean());
        var providers = body.GetProperty("providers");
        Assert.True(providers.GetProperty("google").GetBoolean());
        Assert.True(providers.GetProperty("openrouter").GetBoolean());
        Assert.True(providers.GetProperty("stability").GetBoolean());
    }

    [Fact]
    public async Task Health_is_503_with_database_false_when_flashdb_is_gone()
    {
        using var client = factory.CreateClient();
        var flashdb = new NpgsqlConnectionStringBuilder(factory.Settings["ConnectionStrings:flashdb"]);
        var database = flashdb.Database;
        flashdb.Database = "postgres";
        await using (var admin = new NpgsqlConnection(flashdb.ConnectionString))
        {
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE \"{database}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }

        using var response = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("unhealthy", body.GetProperty("status").GetString());
        Assert.False(body.GetProperty("database").GetBoolean());
    }
}
