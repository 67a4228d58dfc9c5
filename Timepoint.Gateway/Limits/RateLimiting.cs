using System.Globalization;
using Microsoft.Extensions.Options;
using Timepoint.Gateway.Auth;
using Timepoint.Gateway.Proxy;
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

    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var limits = options.CurrentValue.RateLimits;
        var route = context.GetEdgeRoute()!;
        var caller = context.Features.Get<Caller>();
        var (bucket, subject, limit) = caller switch
        {
            // The connection's address, or the client a trusted proxy named; IPv6 by its /64.
            null => ("anon", context.GetClientAddress().LimitKey, limits.AnonymousPerMinute),
            _ when route.Metered is not null => ($"tier-{caller.Tier}", caller.Subject,
                limits.Tiers.GetValueOrDefault(caller.Tier, limits.Tiers.GetValueOrDefault("free", 10))),
            _ when HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method) =>
                ("read", caller.Subject, limits.ReadsPerMinute),
            _ => ("write", caller.Subject, limits.WritesPerMinute),
        };

        var decision = await limiter.HitAsync(bucket, subject, limit);
        WriteHeaders(context.Response, decision);
        if (!decision.Allowed)
        {
            await RefuseAsync(context, decision, bucket, metrics, $"Limit of {decision.Limit} a minute reached");
            return;
        }

        await next();
    }

    public static void WriteHeaders(HttpResponse response, RateDecision decision)
    {
        response.Headers[LimitHeader] = decision.Limit.ToString(CultureInfo.InvariantCulture);
        response.Headers[RemainingHeader] = decision.Remaining.ToString(CultureInfo.InvariantCulture);
        response.Headers[ResetHeader] = decision.ResetAt.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The 429 of a refused decision (its X-RateLimit-* headers already written), with Retry-After.</summary>
    public static Task RefuseAsync(HttpContext context, RateDecision decision, string bucket, GatewayMetrics metrics, string reason)
    {
        metrics.RateLimited(bucket);
        context.Items[Proxy.EdgeRequestLog.RefusalItem] = ErrorCodes.RateLimited;
        context.Response.Headers.RetryAfter = decision.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Problems.WriteAsync(context, Problems.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited,
            "Too many requests", $"{reason}; retry in {decision.RetryAfterSeconds} s."));
    }
}
