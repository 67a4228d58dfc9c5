using System.Net;
using System.Text.Json;

namespace Timepoint.EndToEnd.Tests;

[Collection(PlatformCollection.Name)]
public sealed class HealthTests(PlatformFixture platform)
{
    [Fact]
    public async Task Gateway_health_through_the_edge_has_the_documented_shape()
    {
        using var response = await platform.Gateway.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        AssertExactObject(body, ("status", "healthy"), ("service", "timepoint-api-gateway"), ("version", "0.1.0"));
    }

    [Theory]
    [InlineData("identity", "timepoint-identity")]
    [InlineData("credits", "timepoint-credits")]
    [InlineData("clockchain", "timepoint-clockchain")]
    [InlineData("pro", "timepoint-pro-cloud")]
    public async Task Service_health_has_the_documented_shape(string resource, string service)
    {
        var (status, body) = await platform.GetHealthAsync(resource);

        Assert.Equal(200, status);
        AssertExactObject(body, ("status", "healthy"), ("service", service), ("version", "0.1.0"));
    }

    [Fact]
    public async Task Flash_health_reports_database_and_providers()
    {
        var (status, body) = await platform.GetHealthAsync("flash");

        Assert.Equal(200, status);
        Assert.Equal("healthy", body.GetProperty("status").GetString());
        Assert.True(body.GetProperty("database").GetBoolean());
        var providers = body.GetProperty("providers");
        foreach (var provider in new[] { "google", "openrouter", "stability" })
        {
            Assert.True(providers.GetProperty(provider).GetBoolean(), provider);
        }
    }

    [Theory]
    [InlineData("gateway")]
    [InlineData("identity")]
    [InlineData("credits")]
    [InlineData("flash")]
    [InlineData("clockchain")]
    [InlineData("pro")]
    public async Task Every_service_answers_liveness(string resource)
    {
        using var client = platform.App.CreateHttpClient(resource);
        using var response = await client.GetAsync("/alive");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static void AssertExactObject(JsonElement body, params (string Name, string Value)[] members)
    {
        Assert.Equal(JsonValueKind.Object, body.ValueKind);
        Assert.Equal(members.Select(m => m.Name).Order(), body.EnumerateObject().Select(p => p.Name).Order());
        foreach (var (name, value) in members)
        {
            Assert.Equal(value, body.GetProperty(name).GetString());
        }
    }
}
