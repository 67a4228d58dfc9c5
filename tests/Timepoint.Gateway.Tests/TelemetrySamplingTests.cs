using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using OpenTelemetry.Trace;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// What the edge records of its requests follows configuration: traces at <c>Telemetry:TraceSampleRatio</c>, the request
/// log's lines for successful requests at <c>Gateway:RequestLog:SuccessSampleRatio</c>; Development records every request,
/// and refusals are logged and counted whatever the ratios.
/// <para>
/// Every host in a test process listens to the same activity sources, and an activity is recorded when any listener
/// samples it: the spans one host exports do not show its own sampler. So the sampler is read from the host's tracer
/// provider and its decisions counted on their own; the log lines are the host's own.
/// </para>
/// </summary>
public sealed class TelemetrySamplingTests : EdgeHarness
{
    private readonly List<WebApplicationFactory<Program>> factories = [];

    /// <summary>The sampler the host's tracer provider uses (the SDK keeps it internal).</summary>
    private static Sampler SamplerOf(IServiceProvider services)
    {
        var provider = services.GetRequiredService<TracerProvider>();
        return (Sampler)provider.GetType().GetProperty("Sampler", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic
            | System.Reflection.BindingFlags.Public)!.GetValue(provider)!;
    }

    /// <summary>How many of <paramref name="count"/> traces begun at the edge (no parent) the sampler keeps.</summary>
    private static int Kept(Sampler sampler, int count)
    {
        var kept = 0;
        for (var i = 0; i < count; i++)
        {
            var root = new SamplingParameters(default, ActivityTraceId.CreateRandom(), "GET", ActivityKind.Server);
            kept += sampler.ShouldSample(root).Decision == SamplingDecision.RecordAndSample ? 1 : 0;
        }

        return kept;
    }

    /// <summary>A gateway on the harness's settings plus these, in this environment, with its log kept in memory.</summary>
    private (HttpClient Client, FakeLogCollector Log, IServiceProvider Services) Start(string environment, params (string Key, string Value)[] settings)
    {
        var factory = gateway.WithWebHostBuilder(b =>
        {
            b.UseEnvironment(environment);
            foreach (var (key, value) in settings)
            {
                b.UseSetting(key, value);
            }

            b.ConfigureServices(s => s.AddFakeLogging());
        });
        factories.Add(factory);
        return (factory.CreateClient(), factory.Services.GetFakeLogCollector(), factory.Services);
    }

    /// <summary>Sends <paramref name="count"/> public reads; how many of them ended with a line.</summary>
    private static async Task<int> ReadAsync(HttpClient client, FakeLogCollector log, int count)
    {
        var ids = new HashSet<string>();
        for (var i = 0; i < count; i++)
        {
            using var response = await client.GetAsync("/api/v1/clockchain/stats");
            Assert.True(response.IsSuccessStatusCode);
            ids.Add(response.Headers.GetValues("X-Request-ID").Single());
        }

        await Task.Delay(300); // the last line is written once the response is on its way
        var logged = log.GetSnapshot().Count(r => r.Category == typeof(Proxy.EdgeRequestLog).FullName && r.Message.StartsWith("Answered ", StringComparison.Ordinal)
            && r.Scopes.OfType<IEnumerable<KeyValuePair<string, object?>>>().SelectMany(s => s).Any(kv => kv.Key == "RequestId" && ids.Contains((string)kv.Value!)));
        return logged;
    }

    [Fact]
    public async Task Development_records_every_request_in_traces_and_in_the_log()
    {
        var (client, log, services) = Start("Development");

        var logged = await ReadAsync(client, log, 20);

        Assert.Equal(20, logged);
        Assert.Equal("ParentBased{TraceIdRatioBasedSampler{1.000000}}", SamplerOf(services).Description);
        Assert.Equal(1000, Kept(SamplerOf(services), 1000));
    }

    [Fact]
    public async Task Traces_and_success_lines_follow_their_ratios()
    {
        var (client, log, services) = Start("Production", ("Telemetry:TraceSampleRatio", "0.5"), ("Gateway:RequestLog:SuccessSampleRatio", "0.25"));

        var logged = await ReadAsync(client, log, 200);
        var sampler = SamplerOf(services);

        // Binomial(200, 0.25) and (2000, 0.5): outside these bounds far less than once in a million runs.
        Assert.InRange(logged, 20, 85);
        Assert.Equal("ParentBased{TraceIdRatioBasedSampler{0.500000}}", sampler.Description);
        Assert.InRange(Kept(sampler, 2000), 880, 1120);
        // A trace begun by a caller keeps the caller's decision.
        var sampledParent = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded, isRemote: true);
        Assert.Equal(SamplingDecision.RecordAndSample,
            sampler.ShouldSample(new SamplingParameters(sampledParent, sampledParent.TraceId, "GET", ActivityKind.Server)).Decision);
    }

    [Fact]
    public async Task With_nothing_sampled_a_refusal_is_still_logged_and_counted_and_a_slow_request_logged()
    {
        var (client, log, services) = Start("Production", ("Telemetry:TraceSampleRatio", "0"), ("Gateway:RequestLog:SuccessSampleRatio", "0"),
            ("Gateway:RequestLog:SlowThreshold", "00:00:02"));
        using var refusals = new MetricCollector<long>(services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName, "timepoint.gateway.refusals");

        var logged = await ReadAsync(client, log, 20);
        using var refused = await client.GetAsync("/api/v1/credits/balance");
        using var slow = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats");
        slow.Headers.Add("X-Test-Delay-Ms", "2100");
        using var slowResponse = await client.SendAsync(slow);
        await Task.Delay(300);

        Assert.Equal(0, Kept(SamplerOf(services), 1000));
        Assert.Equal(0, logged);
        Assert.Equal(401, (int)refused.StatusCode);
        var lines = log.GetSnapshot().Where(r => r.Category == typeof(Proxy.EdgeRequestLog).FullName).Select(r => r.Message).ToList();
        Assert.Contains(lines, m => m.StartsWith("Refused GET credits-read with 401 auth.missing", StringComparison.Ordinal));
        Assert.Contains(lines, m => m.StartsWith("Answered GET clockchain-read with 200", StringComparison.Ordinal));
        Assert.Single(refusals.GetMeasurementSnapshot(), m => (string?)m.Tags["code"] == ErrorCodes.AuthMissing);
    }

    [Fact]
    public void Outside_Development_the_documented_defaults_apply()
    {
        var (_, _, services) = Start("Production");
        var environment = services.GetRequiredService<IHostEnvironment>();

        Assert.Equal(TelemetryOptions.ProductionTraceSampleRatio,
            services.GetRequiredService<IOptions<TelemetryOptions>>().Value.TraceSampleRatioIn(environment));
        Assert.Equal($"ParentBased{{TraceIdRatioBasedSampler{{{TelemetryOptions.ProductionTraceSampleRatio:F6}}}}}", SamplerOf(services).Description);
        Assert.Equal(RequestLogOptions.ProductionSuccessSampleRatio,
            services.GetRequiredService<IOptions<GatewayOptions>>().Value.RequestLog.SuccessSampleRatioIn(environment));
    }

    [Theory]
    [InlineData("Telemetry:TraceSampleRatio", "1.5")]
    [InlineData("Gateway:RequestLog:SuccessSampleRatio", "-0.1")]
    [InlineData("Gateway:RequestLog:SlowThreshold", "00:00:00")]
    [InlineData("Gateway:Attribution:Off", "authentication")]
    public void A_setting_out_of_range_stops_the_edge_at_start_naming_it(string setting, string value) =>
        PublicUrls.AssertRefusedAtStart(gateway, setting, value);

    [Fact]
    public void Concerns_turned_off_for_measuring_stop_a_public_https_edge_at_start()
    {
        using var started = gateway.WithWebHostBuilder(b => b.UseSetting("Gateway:PublicUrl", "https://api.example.com/")
            .UseSetting("Gateway:Attribution:Off", "rate-limits"));

        var failure = Assert.ThrowsAny<Exception>(() => started.CreateClient());

        Assert.Contains("Gateway:Attribution:Off", failure.ToString(), StringComparison.Ordinal);
    }

    public override async Task DisposeAsync()
    {
        foreach (var factory in factories)
        {
            await factory.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
