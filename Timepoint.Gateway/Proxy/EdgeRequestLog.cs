using System.Diagnostics;
using Timepoint.Gateway.Auth;
using Timepoint.Gateway.Routing;

namespace Timepoint.Gateway.Proxy;

/// <summary>
/// Puts the request id, route, auth method and user id on every log record written while the edge handles a proxied
/// request (as a logging scope, which the dashboard shows as attributes), and writes one line when it is answered.
/// Never a credential: only what the edge derived from it.
/// </summary>
public sealed class EdgeRequestLog(ILogger<EdgeRequestLog> logger)
{
    /// <summary>The problem code of a refusal, left in <see cref="HttpContext.Items"/> by whoever refused.</summary>
    public const string RefusalItem = "timepoint.refusal";

    /// <summary>Outermost step: request id and route on every record, and the line that ends the request.</summary>
    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var route = context.GetEdgeRoute()!;
        var started = Stopwatch.GetTimestamp();
        KeyValuePair<string, object?>[] request = [new("RequestId", context.GetRequestId()), new("Route", route.Id)];
        using (logger.BeginScope(request))
        {
            await next();
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var status = context.Response.StatusCode;
            using (logger.BeginScope(CallerScope(context)))
            {
                if (context.Items[RefusalItem] is string code)
                {
                    logger.LogInformation("Refused {Method} {Route} with {Status} {Code} in {ElapsedMs:0.0} ms",
                        context.Request.Method, route.Id, status, code, elapsed);
                }
                else
                {
                    logger.LogInformation("Answered {Method} {Route} with {Status} in {ElapsedMs:0.0} ms",
                        context.Request.Method, route.Id, status, elapsed);
                }
            }
        }
    }

    /// <summary>Right after authentication: who the caller is, on every record written further in.</summary>
    public async Task CallerScopeAsync(HttpContext context, Func<Task> next)
    {
        using (logger.BeginScope(CallerScope(context)))
        {
            await next();
        }
    }

    // Values copied now: exporters may read a scope after the request is over.
    private static KeyValuePair<string, object?>[] CallerScope(HttpContext context)
    {
        var caller = context.Features.Get<Caller>();
        return
        [
            new("AuthMethod", caller?.Method ?? "none"),
            new("UserId", caller?.UserId.ToString()),
            new("ApiKeyId", caller?.ApiKeyId),
        ];
    }
}
