using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Timepoint.Soak;

// dotnet run -c Release --project bench/soak -- [seconds=600] [users=48] [concurrency=12] [seed=1] [budget=0.01] [--no-faults]
// The soak's users are funded (1,000,000 credits each) and its platform's per-user limits are lifted, so money moves: the
// metered calls reserve, settle and refund under the faults instead of stopping at 429 and 402.
var numbers = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
var seconds = numbers.Length > 0 ? int.Parse(numbers[0], CultureInfo.InvariantCulture) : 600;
var users = numbers.Length > 1 ? int.Parse(numbers[1], CultureInfo.InvariantCulture) : 48;
var concurrency = numbers.Length > 2 ? int.Parse(numbers[2], CultureInfo.InvariantCulture) : 12;
var seed = numbers.Length > 3 ? int.Parse(numbers[3], CultureInfo.InvariantCulture) : 1;
var budget = numbers.Length > 4 ? double.Parse(numbers[4], CultureInfo.InvariantCulture) : 0.01;
var faults = !args.Contains("--no-faults");

await using var platform = await SoakPlatform.StartAsync();
Console.WriteLine($"soak: {seconds} s, {users} users, {concurrency} clients, seed {seed}, faults {(faults ? "on" : "off")}, two gateway replicas at {platform.Gateway.BaseAddress}");
var result = await new SoakRun(platform, TimeSpan.FromSeconds(seconds), users, concurrency, seed, faults,
    line => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {line}"), credits: 1_000_000).RunAsync();
Console.WriteLine(result.Report(budget));
var failed = !result.Ledger!.Holds || result.ErrorRate > budget || result.Answers.Keys.Any(k => k.Contains("WRONG", StringComparison.Ordinal))
    || (seconds >= 600 && result.Ledger.Reservations < 50_000);
Console.WriteLine(failed ? "SOAK FAILED" : "SOAK PASSED");
return failed ? 1 : 0;

/// <summary>The AppHost as the security tests run it: local infrastructure, two gateway replicas, flash failure injection.</summary>
internal sealed class SoakPlatform : IPlatform, IAsyncDisposable
{
    private readonly DirectoryInfo data = Directory.CreateTempSubdirectory("timepoint-soak-");
    private DistributedApplication app = null!;
    private string adminKey = "";
    private string creditsAdminKey = "";

    public HttpClient Gateway { get; private set; } = null!;

    public static async Task<SoakPlatform> StartAsync()
    {
        var platform = new SoakPlatform();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Timepoint_AppHost>(
            ["Infrastructure:Mode=local", $"Infrastructure:DataDirectory={platform.data.FullName}", "Flash:FailureInjection=true",
                "Gateway:UpstreamTimeout=00:00:05", "Gateway:Replicas=2"],
            (options, _) => options.DisableDashboard = true, cts.Token);
        // The AppHost's appsettings say Information by default, which wins over a minimum level: name the chatty categories.
        // Every request of the soak's clients was a line of System.Net.Http.HttpClient (about 1 GB in ten minutes).
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning)
            .AddFilter("System.Net.Http.HttpClient", LogLevel.Warning)
            .AddFilter("Polly", LogLevel.Warning)
            .AddFilter("Microsoft.Extensions.Http", LogLevel.Warning)
            // The services' console lines, forwarded at Information (the edge writes one per request): their errors still show.
            .AddFilter("Timepoint.AppHost.Resources", LogLevel.Warning));
        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            // At the source too: each service's HttpClient calls (edge -> credits on every metered call) at Warning.
            Set(builder, project.Name, ("Logging__LogLevel__System.Net.Http.HttpClient", "Warning"));
        }

        Set(builder, "credits", ("Credits__ReservationTimeoutSeconds", "10"), ("Credits__ReconcilerIntervalSeconds", "2"));
        // All traffic comes from one address, forged credentials included on purpose: the per-address limits would refuse it.
        // Per-user limits lifted too: 48 users on the free tier's 10 metered calls a minute made 2 of 3 metered calls 429 and
        // only 610 reservations in ten minutes. The limits themselves have their own tests.
        Set(builder, "gateway", ("Gateway__RateLimits__AnonymousPerMinute", "100000"), ("Gateway__RateLimits__UnknownApiKeysPerMinute", "100000"),
            ("Gateway__RateLimits__ReadsPerMinute", "1000000"), ("Gateway__RateLimits__WritesPerMinute", "1000000"),
            ("Gateway__RateLimits__Tiers__free", "1000000"));
        platform.app = await builder.BuildAsync(cts.Token);
        await platform.app.StartAsync(cts.Token);
        foreach (var resource in new[] { "postgres", "redis", "identity", "credits", "flash", "clockchain", "pro", "gateway" })
        {
            await platform.app.ResourceNotifications.WaitForResourceHealthyAsync(resource, cts.Token);
        }

        platform.Gateway = platform.app.CreateHttpClient("gateway");
        var model = platform.app.Services.GetRequiredService<DistributedApplicationModel>();
        platform.adminKey = (await model.Resources.OfType<ParameterResource>().Single(p => p.Name == "identity-admin-key").GetValueAsync(cts.Token))!;
        platform.creditsAdminKey = (await model.Resources.OfType<ParameterResource>().Single(p => p.Name == "credits-admin-key").GetValueAsync(cts.Token))!;
        return platform;
    }

    public HttpClient NewClient() => app.CreateHttpClient("gateway");

    public Task<User> NewUserAsync() => Platform.NewUserAsync(Gateway, adminKey);

    public Task GrantAsync(Guid user, long credits) => Platform.GrantAsync(Gateway, creditsAdminKey, user, credits);

    public Task StopAsync(string resource) => app.ResourceCommands.ExecuteCommandAsync(resource, KnownResourceCommands.StopCommand);

    public Task StartAsync(string resource) => app.ResourceCommands.ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand);

    public async Task<LedgerReport> CheckLedgerAsync(IEnumerable<Guid> users, bool allowOpen = false) =>
        await Ledger.CheckAsync((await app.GetConnectionStringAsync("creditsdb"))!, users, allowOpen);

    public async ValueTask DisposeAsync()
    {
        Gateway?.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        try
        {
            data.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void Set(IDistributedApplicationTestingBuilder builder, string resource, params (string Name, string Value)[] variables) =>
        builder.Resources.Single(r => r.Name == resource).Annotations.Add(new EnvironmentCallbackAnnotation(context =>
        {
            foreach (var (name, value) in variables)
            {
                context.EnvironmentVariables[name] = value;
            }
        }));
}
