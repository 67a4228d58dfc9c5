using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Timepoint.Gateway;
using Timepoint.Gateway.Auth;

namespace Timepoint.Bench;

/// <summary>
/// Times the edge's check of a token's session against the revoked-session list (<see cref="SessionRevocationList.IsRevoked"/>,
/// on every JWT request), with the list read from an in-process source holding <c>revoked</c> sessions: a revoked session
/// (hit), a session not listed (miss, the common case), and an empty list.
/// </summary>
public static class RevocationCheck
{
    public static async Task<(double[] Hit, double[] Miss, double[] Empty)> RunAsync(int iterations, int revoked = 10_000)
    {
        var sessions = Enumerable.Range(0, revoked).Select(_ => Guid.NewGuid().ToString()).ToList();
        var full = await LoadedAsync(sessions);
        var empty = await LoadedAsync([]);
        var stranger = Guid.NewGuid().ToString();
        return (Time(full, i => sessions[i % sessions.Count], iterations), Time(full, _ => stranger, iterations), Time(empty, _ => stranger, iterations));
    }

    private static async Task<SessionRevocationList> LoadedAsync(List<string> sessions)
    {
        var list = new SessionRevocationList(new Source(sessions), Options.Create(new GatewayOptions()), TimeProvider.System,
            ApiKeyVerification.Metrics, NullLogger<SessionRevocationList>.Instance);
        if (!await list.SyncAsync(CancellationToken.None) || list.Count != sessions.Count)
        {
            throw new InvalidOperationException("The revoked-session list did not load.");
        }

        return list;
    }

    private static double[] Time(SessionRevocationList list, Func<int, string> session, int iterations)
    {
        var ids = Enumerable.Range(0, Math.Min(iterations, 100_000)).Select(session).ToArray();
        var found = 0;
        for (var i = 0; i < 100_000; i++)
        {
            found += list.IsRevoked(ids[i % ids.Length]) ? 1 : 0;
        }

        var samples = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var id = ids[i % ids.Length];
            var start = Stopwatch.GetTimestamp();
            found += list.IsRevoked(id) ? 1 : 0;
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        GC.KeepAlive(found);
        return samples;
    }

    private sealed class Source(List<string> sessions) : IIdentitySessionsApi
    {
        public Task<RevokedSessions> RevokedAsync(string? since, CancellationToken cancellationToken) =>
            Task.FromResult(new RevokedSessions(DateTimeOffset.UtcNow,
                [.. sessions.Select(s => new RevokedSession(s, DateTimeOffset.UtcNow.AddMinutes(16)))]));
    }
}
