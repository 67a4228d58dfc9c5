using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Timepoint.Gateway;

/// <summary>The edge's own metrics (meter <c>Timepoint.Gateway</c>), exported to the dashboard with the rest.</summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "Timepoint.Gateway";

    private readonly Counter<long> requests;
    private readonly Counter<long> authFailures;
    private readonly Counter<long> refusals;
    private readonly Counter<long> rateLimited;
    private readonly Counter<long> rateLimitFallbacks;
    private readonly Counter<long> jwksRefreshes;
    private readonly Histogram<double> upstreamDuration;
    private readonly Counter<long> apiKeyCacheLookups;
    private long apiKeyCacheHits;
    private long apiKeyCacheMisses;

    private readonly Counter<long> revocationSyncFailures;
    private Func<int> revokedSessions = () => 0;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        requests = meter.CreateCounter<long>("timepoint.gateway.requests", "{request}", "Proxied requests by route and auth method.");
        authFailures = meter.CreateCounter<long>("timepoint.gateway.auth.failures", "{request}", "Requests refused by authentication, by code.");
        refusals = meter.CreateCounter<long>("timepoint.gateway.refusals", "{request}",
            "Proxied requests the edge answered itself with a problem (authentication, limits, metering, the client's body), by route and code.");
        rateLimited = meter.CreateCounter<long>("timepoint.gateway.ratelimit.rejections", "{request}", "Requests refused by rate limits.");
        rateLimitFallbacks = meter.CreateCounter<long>("timepoint.gateway.ratelimit.fallbacks", "{decision}",
            "Rate-limit decisions taken per replica because Redis was unreachable.");
        jwksRefreshes = meter.CreateCounter<long>("timepoint.gateway.jwks.refreshes", "{refresh}", "Reads of identity's signing keys.");
        upstreamDuration = meter.CreateHistogram<double>("timepoint.gateway.upstream.duration", "s", "Time to the backend's response.");
        revocationSyncFailures = meter.CreateCounter<long>("timepoint.gateway.revocations.sync_failures", "{read}",
            "Reads of identity's revoked-session list that failed (the edge serves the list it last read).");
        meter.CreateObservableGauge("timepoint.gateway.revocations.sessions", () => revokedSessions(), "{session}",
            "Revoked sessions whose access tokens the edge refuses (each kept until its tokens expire).");
        apiKeyCacheLookups = meter.CreateCounter<long>("timepoint.gateway.api_keys.cache.lookups", "{lookup}",
            "API-key verdict cache lookups, by result (hit: answered at the edge; miss: asked identity).");
        // The ratio since start, so the dashboard shows it as one line without any query language.
        meter.CreateObservableGauge("timepoint.gateway.api_keys.cache.hit_ratio", () =>
        {
            var hits = Interlocked.Read(ref apiKeyCacheHits);
            var total = hits + Interlocked.Read(ref apiKeyCacheMisses);
            return total == 0 ? 0d : (double)hits / total;
        }, "1", "Share of API-key verifications answered from the edge's cache since the replica started (0..1).");
    }

    public void Request(string route, string authMethod) =>
        requests.Add(1, new TagList { { "route", route }, { "auth_method", authMethod } });

    public void AuthFailure(string code, string route) =>
        authFailures.Add(1, new TagList { { "code", code }, { "route", route } });

    public void Refused(string route, string code) =>
        refusals.Add(1, new TagList { { "route", route }, { "code", code } });

    public void RateLimited(string bucket) => rateLimited.Add(1, new TagList { { "bucket", bucket } });

    public void RateLimitFallback() => rateLimitFallbacks.Add(1);

    public void JwksRefreshed(string reason, bool success) =>
        jwksRefreshes.Add(1, new TagList { { "reason", reason }, { "success", success ? True : False } });

    private static readonly object True = true;
    private static readonly object False = false;

    public void ApiKeyCacheLookup(bool hit)
    {
        if (hit)
        {
            Interlocked.Increment(ref apiKeyCacheHits);
        }
        else
        {
            Interlocked.Increment(ref apiKeyCacheMisses);
        }

        apiKeyCacheLookups.Add(1, new TagList { { "result", hit ? "hit" : "miss" } });
    }

    public void RevocationSyncFailed() => revocationSyncFailures.Add(1);

    public void ObserveRevokedSessions(Func<int> count) => revokedSessions = count;

    public void Upstream(string route, int status, TimeSpan elapsed) =>
        upstreamDuration.Record(elapsed.TotalSeconds, new TagList { { "route", route }, { "status", Status(status) } });

    // HTTP statuses boxed once, so a tag costs no allocation a request.
    private static readonly object[] Statuses = [.. Enumerable.Range(0, 600).Select(status => (object)status)];

    private static object Status(int status) => (uint)status < Statuses.Length ? Statuses[status] : status;
}
