using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Credits.Tests;

public sealed class HealthTests : IAsyncLifetime
{
    private readonly ServiceFactory<Program> factory = new();

    public async Task InitializeAsync()
    {
        await factory.UseDatabaseAsync("creditsdb");
    }

    public Task DisposeAsync() => factory.DisposeAsync().AsTask();

    [Fact]
    public async Task Health_is_healthy_and_names_the_service()
    {
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("healthy", body.GetProperty("status").GetString());
        Assert.Equal("timepoint-credits", body.GetProperty("service").GetString());
    }
}
