using System.Globalization;
using Microsoft.Extensions.Options;
using Timepoint.Gateway.Routing;

namespace Timepoint.Gateway.Limits;

/// <summary>
/// Picks the budget of a proxied request (docs/contract.md#3-every-request): anonymous per client address, authenticated per user (JWT
/// or any of the user's API keys alike) with read and write classes, metered calls by the user's tier. Every limited
/// response carries X-RateLimit-* headers.
/// </summary>
public sealed class RateLimiting(EdgeRateLimiter limiter, IOptionsMonitor<GatewayOptions> options, GatewayMetrics metrics)
{
    public const string LimitHeader = "X-RateLimit-Limit";
    public const string RemainingHeader = "X-RateLimit-Remaining";
    public const string ResetHeader = "X-RateLimit-Reset";

    /// <summary>The headers every limited response carries.</summary>
    public static readonly string[] Headers = [LimitHeader, RemainingHeader, ResetHeader];

    /// <summary>Spends one request of the caller's budget; refuses the request (429) when the budget is spent.</summary>
    public async Task AdmitAsync(EdgeRequest edge)
    {
        var limits = options.CurrentValue.RateLimits;
        var caller = edge.Caller;
        var (bucket, subject, limit) = edge.Route.RateClassFor(caller, edge.Context.Request.Method) switch
        {
            // The connection's address, or the client a trusted proxy named; IPv6 by its /64.
            RateClass.Anonymous => ("anon", edge.ClientLimitKey, limits.AnonymousPerMinute),
            RateClass.Tier => ($"tier-{caller!.Tier}", caller.Subject,
                limits.Tiers.GetValueOrDefault(caller.Tier, limits.Tiers.GetValueOrDefault("free", 10))),
            RateClass.Read => ("read", caller!.Subject, limits.ReadsPerMinute),
            _ => ("write", caller!.Subject, limits.WritesPerMinute),
        };

        var decision = await limiter.HitAsync(bucket, subject, limit);
        WriteHeaders(edge.Context.Response, decision);
        if (!decision.Allowed)
        {
            await RefuseAsync(edge, decision, bucket, metrics, $"Limit of {decision.Limit} a minute reached");
        }
    }

    public static void WriteHeaders(HttpResponse response, RateDecision decision)
    {
        response.Headers[LimitHeader] = decision.Limit.ToString(CultureInfo.InvariantCulture);
        response.Headers[RemainingHeader] = decision.Remaining.ToString(CultureInfo.InvariantCulture);
        response.Headers[ResetHeader] = decision.ResetAt.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The 429 of a refused decision (its X-RateLimit-* headers already written), with Retry-After.</summary>
    public static Task RefuseAsync(EdgeRequest edge, RateDecision decision, string bucket, GatewayMetrics metrics, string reason)
    {
        metrics.RateLimited(bucket);
        edge.Context.Response.Headers.RetryAfter = decision.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return edge.RefuseAsync(Problems.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited,
            "Too many requests", $"{reason}; retry in {decision.RetryAfterSeconds} s."));
    }
}
