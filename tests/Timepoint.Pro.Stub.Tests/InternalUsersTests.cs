using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Hosting;

namespace Timepoint.Pro.Stub.Tests;

/// <summary>Identity's calls for a user's data in pro: the export and the deletion, behind pro's service key.</summary>
public sealed class InternalUsersTests(ProApp app) : IClassFixture<ProApp>
{
    [Fact]
    public async Task The_export_lists_only_the_users_jobs_and_deletion_forgets_them()
    {
        var (user, other) = (Guid.NewGuid(), Guid.NewGuid());
        var mine = await SimulateAsync(user);
        var theirs = await SimulateAsync(other);

        var exported = await ExportAsync(user);
        using var deleted = await InternalAsync(HttpMethod.Delete, $"/internal/users/{user}");
        using var deletedAgain = await InternalAsync(HttpMethod.Delete, $"/internal/users/{user}");
        using var read = await app.SendAsync(HttpMethod.Get, $"/api/v1/simulations/{mine}", user);

        Assert.Equal([mine], exported);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, deletedAgain.StatusCode);
        Assert.Empty(await ExportAsync(user));
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.Equal([theirs], await ExportAsync(other));
    }

    [Theory]
    [InlineData("DELETE", null, HttpStatusCode.Unauthorized)]
    [InlineData("GET", null, HttpStatusCode.Unauthorized)]
    [InlineData("DELETE", "not-the-service-key-0123456789abcdef", HttpStatusCode.Forbidden)]
    [InlineData("GET", "not-the-service-key-0123456789abcdef", HttpStatusCode.Forbidden)]
    public async Task Internal_routes_need_pros_service_key(string method, string? key, HttpStatusCode expected)
    {
        var user = Guid.NewGuid();
        using var request = new HttpRequestMessage(new HttpMethod(method), method == "GET" ? $"/internal/users/{user}/export" : $"/internal/users/{user}");
        if (key is not null)
        {
            request.Headers.Add(ServiceKeyExtensions.ServiceKeyHeader, key);
        }

        using var response = await app.Client.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
    }

    private async Task<Guid> SimulateAsync(Guid user)
    {
        using var response = await app.SendAsync(HttpMethod.Post, "/api/v1/simulate", user,
            new { template = "board_meeting", prompt = "Should we open an office in Lisbon?", mode = "pearl", fidelity = 2 });
        response.EnsureSuccessStatusCode();
        return Guid.Parse((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetString()!);
    }

    private async Task<List<Guid>> ExportAsync(Guid user)
    {
        using var response = await InternalAsync(HttpMethod.Get, $"/internal/users/{user}/export");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return [.. body.GetProperty("simulations").EnumerateArray().Select(s => Guid.Parse(s.GetProperty("job_id").GetString()!))];
    }

    private Task<HttpResponseMessage> InternalAsync(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add(ServiceKeyExtensions.ServiceKeyHeader, app.Factory.ServiceKey);
        return app.Client.SendAsync(request);
    }
}
