using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Flash.Stub.Tests;

/// <summary>
/// Flash in memory on its own fresh flashdb, with short pretend-work delays. Subclasses change the failure injection
/// settings; each is one running service shared by the tests of a class, which each use their own users.
/// </summary>
public class FlashApp : IAsyncLifetime
{
    public ServiceFactory<Program> Factory { get; } = new();

    public HttpClient Client { get; private set; } = null!;

    protected virtual void Configure(Dictionary<string, string?> settings)
    {
        settings["Flash:FailureInjection:AllowRequestSwitch"] = "true";
        settings["Flash:FailureInjection:DelaySeconds"] = "1";
    }

    public async Task InitializeAsync()
    {
        await Factory.UseDatabaseAsync("flashdb");
        Factory.Settings["Flash:Generation:StepDelayMilliseconds"] = "5";
        Factory.Settings["Flash:Generation:AsyncDelayMilliseconds"] = "300";
        Configure(Factory.Settings);
        Client = Factory.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
    }

    /// <summary>A request as the gateway forwards it for <paramref name="userId"/> (signed), or anonymous when null.</summary>
    public HttpRequestMessage Request(HttpMethod method, string path, Guid? userId, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        // Generation is metered: the edge forwards it with the reservation it made.
        var metered = method == HttpMethod.Post && path.StartsWith("/api/v1/timepoints/generate", StringComparison.Ordinal);
        return userId is { } id ? request.Signed(Factory.GatewaySecret, id, charge: metered ? GatewayRequests.Charge() : null) : request;
    }

    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, Guid? userId, object? body = null) =>
        Client.SendAsync(Request(method, path, userId, body));

    public static Dictionary<string, object?> Generate(string query, bool generateImage = false, string? preset = null, string? visibility = null)
    {
        var body = new Dictionary<string, object?> { ["query"] = query, ["generate_image"] = generateImage };
        if (preset is not null)
        {
            body["preset"] = preset;
        }

        if (visibility is not null)
        {
            body["visibility"] = visibility;
        }

        return body;
    }

    /// <summary>Generates synchronously and returns the timepoint, failing the test on anything but 200.</summary>
    public async Task<JsonElement> GenerateSyncAsync(Guid userId, string query, bool generateImage = false, string? visibility = null)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/v1/timepoints/generate/sync", userId,
            Generate(query, generateImage, visibility: visibility));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<JsonElement> ListAsync(Guid userId, string query = "")
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/v1/timepoints" + query, userId);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}

/// <summary>Flash as deployed by default: no per-request failure switch.</summary>
public sealed class LockedFlashApp : FlashApp
{
    protected override void Configure(Dictionary<string, string?> settings) { }
}

/// <summary>Flash configured to fail every generate request.</summary>
public sealed class FailingFlashApp : FlashApp
{
    protected override void Configure(Dictionary<string, string?> settings) =>
        settings["Flash:FailureInjection:Mode"] = "error";
}
