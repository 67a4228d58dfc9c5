using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Timepoint.Soak;

// dotnet run -c Release --project bench/soak -- [seconds=600] [users=48] [concurrency=12] [seed=1] [budget=0.01] [--no-faults]
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
    line => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {line}")).RunAsync();
Console.WriteLine(result.Report(budget));
var failed = !result.Ledger!.Holds || result.ErrorRate > budget || result.Answers.Keys.Any(k => k.Contains("WRONG", StringComparison.Ordinal));
Console.WriteLine(failed ? "SOAK FAILED" : "SOAK PASSED");
return failed ? 1 : 0;

/// <summary>The AppHost as the security tests run it: local infrastructure, two gateway replicas, flash failure injection.</summary>
internal sealed class SoakPlatform : IPlatform, IAsyncDisposable
{
    private readonly DirectoryInfo data = Directory.CreateTempSubdirectory("timepoint-soak-");
    private DistributedApplication app = null!;
    private string adminKey = "";

    public HttpClient Gateway { get; private set; } = null!;

    public static async Task<SoakPlatform> StartAsync()
    {
        var platform = new SoakPlatform();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Timepoint_AppHost>(
            ["Infrastructure:Mode=local", $"Infrastructure:DataDirectory={platform.data.FullName}", "Flash:FailureInjection=true",
                "Gateway:UpstreamTimeout=00:00:05", "Gateway:Replicas=2"],
            (options, _) => options.DisableDashboard = true, cts.Token);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        Set(builder, "credits", ("Credits__ReservationTimeoutSeconds", "10"), ("Credits__ReconcilerIntervalSeconds", "2"));
        // All traffic comes from one address, forged credentials included on purpose: the per-address limits would refuse it.
        Set(builder, "gateway", ("Gateway__RateLimits__AnonymousPerMinute", "100000"), ("Gateway__RateLimits__UnknownApiKeysPerMinute", "100000"));
        platform.app = await builder.BuildAsync(cts.Token);
        await platform.app.StartAsync(cts.Token);
        foreach (var resource in new[] { "postgres", "redis", "identity", "credits", "flash", "clockchain", "pro", "gateway" })
        {
            await platform.app.ResourceNotifications.WaitForResourceHealthyAsync(resource, cts.Token);
        }

        platform.Gateway = platform.app.CreateHttpClient("gateway");
        var model = platform.app.Services.GetRequiredService<DistributedApplicationModel>();
        platform.adminKey = (await model.Resources.OfType<ParameterResource>().Single(p => p.Name == "identity-admin-key").GetValueAsync(cts.Token))!;
        return platform;
    }

    public HttpClient NewClient() => app.CreateHttpClient("gateway");

    public Task<User> NewUserAsync() => Platform.NewUserAsync(Gateway, adminKey);

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
