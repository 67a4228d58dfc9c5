using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

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
    }
}
