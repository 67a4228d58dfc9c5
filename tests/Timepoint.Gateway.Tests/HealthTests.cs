using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Gateway.Tests;

public sealed class HealthTests : IAsyncLifetime
{
    private readonly ServiceFactory<Program> factory = new();
    private readonly StandInIdentity identity = new(); // the revoked-session list is read before the edge is ready

    public async Task InitializeAsync()
    {
        await identity.StartAsync();
        await factory.UseRedisAsync();
        factory.Settings["Downstream:identity:BaseAddress"] = identity.Address.ToString();
        factory.Settings["Downstream:identity:ServiceKey"] = "identity-service-key-0123456789abcdef";
        factory.Settings["Downstream:credits:ServiceKey"] = "credits-service-key-0123456789abcdefg";
    }

    public async Task DisposeAsync()
    {
        await factory.DisposeAsync();
        await identity.DisposeAsync();
    }

    [Fact]
    public async Task Health_is_healthy_and_names_the_service()
    {
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("healthy", body.GetProperty("status").GetString());
        Assert.Equal("timepoint-api-gateway", body.GetProperty("service").GetString());
    }
}
