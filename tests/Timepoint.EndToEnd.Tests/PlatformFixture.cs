using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Timepoint.EndToEnd.Tests;

/// <summary>
/// The real AppHost with local PostgreSQL and Redis in a data folder of its own, started once per test class.
/// Clients reach it only through the gateway; tests may read backends' own /health directly.
/// </summary>
public sealed record TokenPair(Guid UserId, string AccessToken, string RefreshToken);

/// <summary>One running platform shared by the test classes of the "platform" collection.</summary>
[CollectionDefinition(Name)]
public sealed class PlatformCollection : ICollectionFixture<PlatformFixture>
{
    public const string Name = "platform";
}

public class PlatformFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);

    public static readonly string[] Resources =
        ["postgres", "identitydb", "creditsdb", "flashdb", "redis", "identity", "credits", "flash", "clockchain", "pro", "gateway"];

    /// <summary>Extra AppHost settings of a derived fixture.</summary>
    protected virtual string[] Settings => [];

    /// <summary>Changes a derived fixture makes to the resources before the platform starts.</summary>
    protected virtual void Configure(IDistributedApplicationTestingBuilder builder)
    {
    }

    private readonly DirectoryInfo dataDirectory = Directory.CreateTempSubdirectory("timepoint-e2e-");

    public DistributedApplication App { get; private set; } = null!;

    /// <summary>The edge, as clients reach it; every answer it gives is recorded for the drift check.</summary>
    public HttpClient Gateway { get; private set; } = null!;

    /// <summary>The edge's OpenAPI document as served when the platform had started (kept beside the tests, to read after a run).</summary>
    public string DocumentPath => Path.Combine(AppContext.BaseDirectory, $"openapi-{GetType().Name}.json");

    private readonly System.Collections.Concurrent.ConcurrentQueue<RecordedAnswer> answers = new();

    public async Task InitializeAsync()
    {
        using var cts = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Timepoint_AppHost>(
            ["Infrastructure:Mode=local", $"Infrastructure:DataDirectory={dataDirectory.FullName}", "Flash:FailureInjection=true",
                "Gateway:UpstreamTimeout=00:00:05", .. Settings],
            (options, _) => options.DisableDashboard = true,
            cts.Token);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        // Every test mints its users with the admin dev-token route, an anonymous call each from this one address: more
        // than the default 60 a minute over the suite. The anonymous budget has its own tests (gateway and security suites).
        builder.Resources.Single(r => r.Name == "gateway").Annotations.Add(new EnvironmentCallbackAnnotation(context =>
            context.EnvironmentVariables["Gateway__RateLimits__AnonymousPerMinute"] = "100000"));
        Configure(builder);

        App = await builder.BuildAsync(cts.Token);
        await App.StartAsync(cts.Token);
        foreach (var resource in Resources)
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(resource, cts.Token);
        }

        Gateway = new HttpClient(new RecordingHandler(answers)) { BaseAddress = App.GetEndpoint("gateway", "http") };
        // Aspire counts a degraded edge as up; tests start from a fully healthy one (Redis connected).
        await WaitForHealthAsync("gateway", (status, body) => status == 200 && body.GetProperty("status").GetString() == "healthy",
            TimeSpan.FromSeconds(30));

        using var document = await Gateway.GetAsync("/openapi/v1.json", cts.Token);
        Assert.True(document.IsSuccessStatusCode, $"GET /openapi/v1.json: {(int)document.StatusCode} {await document.Content.ReadAsStringAsync(cts.Token)}");
        await File.WriteAllTextAsync(DocumentPath, await document.Content.ReadAsStringAsync(cts.Token), cts.Token);
    }

    public async Task DisposeAsync()
    {
        // The drift check: every answer the tests got is one the document describes (status, and the body's schema).
        var (described, report) = answers.IsEmpty || !File.Exists(DocumentPath) ? (true, "") : await OpenApiChecks.CheckDriftAsync(DocumentPath, answers);
        Gateway?.Dispose();
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }

        try
        {
            dataDirectory.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A server still closing its files; the temp folder is swept by the OS.
        }

        Assert.True(described, "Answers the OpenAPI document does not describe (tests/openapi/drift.mjs):\n" + report);
    }

    /// <summary>
    /// Runs a burst (with a user of its own) inside one of the edge's fixed one-minute rate-limit windows (Unix minutes):
    /// a burst across a boundary opens a new window mid-way, and its last calls meet something other than the limit.
    /// Starts in a fresh window when little of the current one is left, and runs again (at most three times) if it
    /// still straddled one.
    /// </summary>
    public static async Task<T> InOneRateLimitWindowAsync<T>(Func<Task<T>> burst)
    {
        for (var attempt = 1; ; attempt++)
        {
            var secondsLeft = 60 - DateTimeOffset.UtcNow.ToUnixTimeSeconds() % 60;
            if (secondsLeft < 20)
            {
                await Task.Delay(TimeSpan.FromSeconds(secondsLeft + 1));
            }

            var window = DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60;
            var result = await burst();
            if (DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60 == window || attempt == 3)
            {
                return result;
            }
        }
    }

    /// <summary>The value of an AppHost parameter (a generated secret such as identity-admin-key).</summary>
    public async Task<string> ParameterAsync(string name)
    {
        var model = App.Services.GetRequiredService<DistributedApplicationModel>();
        var parameter = model.Resources.OfType<ParameterResource>().Single(p => p.Name == name);
        return (await parameter.GetValueAsync(CancellationToken.None))!;
    }

    /// <summary>A new user with a real token pair, minted through the edge by the admin dev-token route.</summary>
    public async Task<TokenPair> NewUserAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/dev/token")
        {
            Content = JsonContent.Create(new { email = $"e2e-{Guid.NewGuid():N}@example.test", display_name = "E2E" }),
        };
        request.Headers.Add("X-Admin-Key", await ParameterAsync("identity-admin-key"));
        using var response = await Gateway.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var token = body.GetProperty("access_token").GetString()!;
        var payload = System.Text.Encoding.UTF8.GetString(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(token.Split('.')[1]));
        var userId = JsonDocument.Parse(payload).RootElement.GetProperty("sub").GetGuid();
        return new TokenPair(userId, token, body.GetProperty("refresh_token").GetString()!);
    }

    /// <summary>A request through the edge carrying the user's access token.</summary>
    public static HttpRequestMessage As(TokenPair user, HttpMethod method, string path, object? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", user.AccessToken);
        if (json is not null)
        {
            request.Content = JsonContent.Create(json);
        }

        return request;
    }

    /// <summary>GETs <c>/health</c> of a resource, directly (for backends) or through the edge (for the gateway).</summary>
    public async Task<(int Status, JsonElement Body)> GetHealthAsync(string resource, CancellationToken ct = default)
    {
        using var client = App.CreateHttpClient(resource);
        client.Timeout = TimeSpan.FromSeconds(20);
        using var response = await client.GetAsync("/health", ct);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        return ((int)response.StatusCode, body);
    }

    /// <summary>Polls a resource's /health until <paramref name="accept"/> holds, or fails with the last answer.</summary>
    public async Task<(int Status, JsonElement Body)> WaitForHealthAsync(
        string resource, Func<int, JsonElement, bool> accept, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        (int Status, JsonElement Body) last = default;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await GetHealthAsync(resource);
                if (accept(last.Status, last.Body))
                {
                    return last;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // not listening yet, or still deciding
            }

            await Task.Delay(500);
        }

        throw new TimeoutException($"{resource} /health did not reach the expected state within {timeout}; last: {last.Status} {last.Body}");
    }
}
