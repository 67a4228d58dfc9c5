using System.Collections;
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

    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var route = context.GetEdgeRoute()!;
        var started = Stopwatch.GetTimestamp();
        using (logger.BeginScope(new RequestScope(context, route.Id)))
        {
            await next();
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var status = context.Response.StatusCode;
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

    /// <summary>Read when a record is written, so the caller authenticated after the scope began is on it.</summary>
    private sealed class RequestScope(HttpContext context, string route) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private KeyValuePair<string, object?>[] Items()
        {
            var caller = context.Features.Get<Caller>();
            return
            [
                new("RequestId", context.GetRequestId()),
                new("Route", route),
                new("AuthMethod", caller?.Method ?? "none"),
                new("UserId", caller?.UserId.ToString()),
                new("ApiKeyId", caller?.ApiKeyId),
            ];
        }

        public int Count => 5;

        public KeyValuePair<string, object?> this[int index] => Items()[index];

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)Items()).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString()
        {
            var caller = context.Features.Get<Caller>();
            return $"request {context.GetRequestId()} route {route} auth {caller?.Method ?? "none"} user {caller?.UserId.ToString() ?? "-"}";
        }
    }
}
