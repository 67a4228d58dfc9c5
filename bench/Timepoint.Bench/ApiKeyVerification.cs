using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Timepoint.Gateway;
using Timepoint.Gateway.Auth;

namespace Timepoint.Bench;

/// <summary>
/// Times the edge's own <see cref="ApiKeyVerifier.VerifyAsync"/> with a real key against the running identity service:
/// cached (the verdict is remembered: hash and cache look-up) and uncached (an empty cache each time: one call to identity).
/// A Stopwatch loop over many iterations after a warm-up, reported as a distribution in microseconds.
/// </summary>
public static class ApiKeyVerification
{
    public static async Task RunAsync(Uri identity, string serviceKey, string apiKey, int iterations)
    {
        using var http = new HttpClient { BaseAddress = identity };
        http.DefaultRequestHeaders.Add(ServiceKeyExtensions.ServiceKeyHeader, serviceKey);
        var api = new IdentityOverHttp(http);

        // Cached: one verifier, its verdict remembered after the first call.
        var verifier = NewVerifier(api);
        await CheckAsync(verifier, apiKey);
        for (var i = 0; i < 10_000; i++)
        {
            await verifier.VerifyAsync(apiKey, CancellationToken.None);
        }

        var cached = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await verifier.VerifyAsync(apiKey, CancellationToken.None);
            cached[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        // Uncached: a fresh verifier (empty cache) per call, created outside the timed part.
        var uncachedIterations = Math.Max(50, iterations / 200);
        for (var i = 0; i < 20; i++)
        {
            await NewVerifier(api).VerifyAsync(apiKey, CancellationToken.None);
        }

        var uncached = new double[uncachedIterations];
        for (var i = 0; i < uncachedIterations; i++)
        {
            var fresh = NewVerifier(api);
            var start = Stopwatch.GetTimestamp();
            await CheckAsync(fresh, apiKey);
            uncached[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        Console.WriteLine("| Path | Iterations | p50 (us) | p90 (us) | p99 (us) | p99.9 (us) | max (us) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        Console.WriteLine(Row("cached verdict", cached));
        Console.WriteLine(Row("uncached (call to identity)", uncached));

        // Beside it, the other per-request credential check: a JWT's session against the revoked-session list.
        var (hit, miss, empty) = await RevocationCheck.RunAsync(iterations);
        Console.WriteLine(Row("revocation check, 10,000 revoked: session listed", hit));
        Console.WriteLine(Row("revocation check, 10,000 revoked: session not listed", miss));
        Console.WriteLine(Row("revocation check, empty list", empty));
    }

    private static ApiKeyVerifier NewVerifier(IIdentityApiKeysApi api) =>
        // Redis is used only for revocation fan-out (the background subscription), not by VerifyAsync.
        new(api, null!, TimeProvider.System, Metrics, Microsoft.Extensions.Options.Options.Create(new GatewayOptions()), NullLogger<ApiKeyVerifier>.Instance);

    /// <summary>The gateway's own instruments, as in production (the cache-lookup counter is on the measured path).</summary>
    internal static readonly GatewayMetrics Metrics =
        new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());

    private static async Task CheckAsync(ApiKeyVerifier verifier, string apiKey)
    {
        var outcome = await verifier.VerifyAsync(apiKey, CancellationToken.None);
        if (outcome.Caller is null)
        {
            throw new InvalidOperationException("The API key was refused: " + outcome.Problem?.ProblemDetails.Detail);
        }
    }

    internal static string Row(string name, double[] samples)
    {
        Array.Sort(samples);
        string At(double q) => samples[Math.Min(samples.Length - 1, (int)Math.Ceiling(q * samples.Length) - 1)].ToString("F1", CultureInfo.InvariantCulture);
        return $"| {name} | {samples.Length} | {At(0.50)} | {At(0.90)} | {At(0.99)} | {At(0.999)} | {samples[^1].ToString("F1", CultureInfo.InvariantCulture)} |";
    }

    /// <summary>Identity's internal verify endpoint, as the gateway's typed client calls it (same JSON contract).</summary>
    private sealed class IdentityOverHttp(HttpClient http) : IIdentityApiKeysApi
    {
        public async Task<KeyVerdict> VerifyAsync(VerifyRequest request, CancellationToken cancellationToken)
        {
            using var response = await http.PostAsJsonAsync("/internal/identity/api-keys/verify", request, ServiceJson.Default.VerifyRequest,
                cancellationToken);
            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync(ServiceJson.Default.KeyVerdict, cancellationToken))!;
        }
    }
}
