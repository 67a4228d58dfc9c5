using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Timepoint.Soak;

namespace Timepoint.Security.Tests;

/// <summary>
/// The real AppHost with local PostgreSQL and Redis, two gateway replicas (so one can be killed), failure injection in
/// flash, and a short reservation timeout so the credits reconciler can be watched refunding within a test.
/// </summary>
public sealed class SecurityFixture : IAsyncLifetime, IPlatform
{
    public const int ReservationTimeoutSeconds = 20;

    private static readonly string[] Resources =
        ["postgres", "identitydb", "creditsdb", "flashdb", "redis", "identity", "credits", "flash", "clockchain", "pro", "gateway"];

    private readonly DirectoryInfo dataDirectory = Directory.CreateTempSubdirectory("timepoint-security-");

    public DistributedApplication App { get; private set; } = null!;

    public HttpClient Gateway { get; private set; } = null!;

    public Uri GatewayAddress => Gateway.BaseAddress!;

    public async Task InitializeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(8)); // a busy 2-core machine needs it
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Timepoint_AppHost>(
            ["Infrastructure:Mode=local", $"Infrastructure:DataDirectory={dataDirectory.FullName}", "Flash:FailureInjection=true",
                "Gateway:UpstreamTimeout=00:00:12", "Gateway:Replicas=2"],
            (options, _) => options.DisableDashboard = true,
            cts.Token);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        Environment(builder, "credits", ("Credits__ReservationTimeoutSeconds", $"{ReservationTimeoutSeconds}"), ("Credits__ReconcilerIntervalSeconds", "2"));
        // Many users are minted here (an anonymous admin call each), and the soak sends anonymous reads at full speed: with
        // leased limits it passed 2,000 in a minute and the next tests could not mint users. The per-address budgets are not
        // what these tests are about (the gateway's AnonymousLimitTests and FailedAuthenticationTests check them), so they
        // are set as bench/soak sets them: every forged credential here must be seen refused as such, not as 429.
        // BalancerTests' haproxy connects to the replicas from 127.0.0.9, the only proxy they trust; every other test connects
        // from 127.0.0.1 (through DCP's proxy) and is counted on its connection, as without the setting.
        Environment(builder, "gateway", ("Gateway__RateLimits__AnonymousPerMinute", "100000"),
            ("Gateway__RateLimits__UnknownApiKeysPerMinute", "100000"), ("Gateway__TrustedProxies__0", "127.0.0.9"));

        App = await builder.BuildAsync(cts.Token);
        await App.StartAsync(cts.Token);
        foreach (var resource in Resources)
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(resource, cts.Token);
        }

        Gateway = App.CreateHttpClient("gateway");
        await WaitUntilAsync(async () =>
        {
            using var response = await Gateway.GetAsync("/health");
            return response.StatusCode == HttpStatusCode.OK
                && (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString() == "healthy";
        }, TimeSpan.FromSeconds(30), "the gateway to be healthy");
    }

    public async Task DisposeAsync()
    {
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
    }

    /// <summary>A new client of the edge, on connections of its own (so requests spread over the replicas).</summary>
    public HttpClient NewClient() => App.CreateHttpClient("gateway");

    public async Task<string> ParameterAsync(string name)
    {
        var model = App.Services.GetRequiredService<DistributedApplicationModel>();
        var parameter = model.Resources.OfType<ParameterResource>().Single(p => p.Name == name);
        return (await parameter.GetValueAsync(CancellationToken.None))!;
    }

    public async Task<User> NewUserAsync() => await Platform.NewUserAsync(Gateway, await ParameterAsync("identity-admin-key"));

    public async Task GrantAsync(Guid user, long credits) => await Platform.GrantAsync(Gateway, await ParameterAsync("credits-admin-key"), user, credits);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<User>>> shared = new();

    /// <summary>
    /// One user for every case of a corpus whose evidence is "nothing happened to this user": the evidence accumulates
    /// (any case that got through would leave a mark every later case would see too), and minting costs time.
    /// </summary>
    public Task<User> SharedUserAsync(string corpus) => shared.GetOrAdd(corpus, _ => new Lazy<Task<User>>(NewUserAsync)).Value;

    public Task<string> CreditsConnectionStringAsync() => App.GetConnectionStringAsync("creditsdb").AsTask()!;

    /// <summary>Balance == ledger sum, balance >= 0, one debit and at most one refund per reservation, none left open.</summary>
    public async Task<LedgerReport> CheckLedgerAsync(IEnumerable<Guid> users, bool allowOpen = false) =>
        await Ledger.CheckAsync((await CreditsConnectionStringAsync())!, users, allowOpen);

    public async Task ExecuteAsync(string resource, string command)
    {
        var result = await App.ResourceCommands.ExecuteCommandAsync(resource, command);
        var stop = command == KnownResourceCommands.StopCommand;
        // A stop returns before the process has gone: a start right after it raced the old process for its port (Redis
        // "failed to start" once in a full run). So a stop always waits for the state; a start only when DCP said it failed.
        if (result.Success && !stop)
        {
            return;
        }

        // On a loaded machine DCP may also report a stop or start as failed while it is still under way: wait for the state.
        string[] target = stop
            ? [KnownResourceStates.Exited, KnownResourceStates.Finished]
            : [KnownResourceStates.Running];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await App.ResourceNotifications.WaitForResourceAsync(resource, target, cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{command} {resource}: {result.Message}");
        }
    }

    Task IPlatform.StopAsync(string resource) => ExecuteAsync(resource, KnownResourceCommands.StopCommand);

    Task IPlatform.StartAsync(string resource) => ExecuteAsync(resource, KnownResourceCommands.StartCommand);

    /// <summary>The running instances of a resource (a project's replicas), with their process ids.</summary>
    public async Task<IReadOnlyList<(string Instance, int Pid)>> InstancesAsync(string resource)
    {
        var found = new Dictionary<string, int>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            // The watch replays the current state of every resource first.
            await foreach (var e in App.ResourceNotifications.WatchAsync(cts.Token))
            {
                if (e.Resource.Name != resource)
                {
                    continue;
                }

                var pid = e.Snapshot.Properties.FirstOrDefault(p => p.Name.EndsWith(".pid", StringComparison.Ordinal))?.Value;
                if (pid is not null && int.TryParse(pid.ToString(), out var id) && e.Snapshot.State?.Text == KnownResourceStates.Running)
                {
                    found[e.ResourceId] = id;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return [.. found.Select(p => (p.Key, p.Value))];
    }

    /// <summary>The address a project instance itself listens on (behind DCP's proxy), read from its environment.</summary>
    public static Uri? ListeningAddress(int pid)
    {
        try
        {
            var environment = File.ReadAllText($"/proc/{pid}/environ").Split('\0');
            var urls = environment.FirstOrDefault(v => v.StartsWith("ASPNETCORE_URLS=", StringComparison.Ordinal))?["ASPNETCORE_URLS=".Length..];
            var first = urls?.Split(';').FirstOrDefault(u => u.StartsWith("http://", StringComparison.Ordinal));
            return first is null ? null : new Uri(first.Replace("+", "localhost", StringComparison.Ordinal).Replace("*", "localhost", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or NpgsqlException)
            {
                // not there yet
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Waited {timeout} for {what}.");
            }

            await Task.Delay(250);
        }
    }

    private static void Environment(IDistributedApplicationTestingBuilder builder, string resource, params (string Name, string Value)[] variables)
    {
        var target = builder.Resources.Single(r => r.Name == resource);
        target.Annotations.Add(new EnvironmentCallbackAnnotation(context =>
        {
            foreach (var (name, value) in variables)
            {
                context.EnvironmentVariables[name] = value;
            }
        }));
    }
}
