using System.Collections;
using System.Diagnostics;
using Timepoint.Gateway.Auth;
using Timepoint.Gateway.Routing;

namespace Timepoint.Gateway.Proxy;

/// <summary>
/// Puts the request id, client address (the one the limits use), route, auth method and user id on every log record written while the edge handles a proxied
/// request (as a logging scope, which the dashboard shows as attributes), and writes one line when it is answered.
/// Never a credential: only what the edge derived from it.
/// </summary>
public sealed partial class EdgeRequestLog(ILogger<EdgeRequestLog> logger)
{
    /// <summary>The problem code of a refusal, left in <see cref="HttpContext.Items"/> by whoever refused.</summary>
    public const string RefusalItem = "timepoint.refusal";

    /// <summary>Outermost step: one scope for the whole request, and the line that ends it.</summary>
    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var route = context.GetEdgeRoute()!;
        var started = Stopwatch.GetTimestamp();
        var scope = new RequestScope(context.GetRequestId(), context.GetClientAddress().ToString(), route.Id);
        context.Features.Set(scope);
        using (logger.BeginScope(scope))
        {
            await next();
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (context.Items[RefusalItem] is string code)
            {
                Refused(logger, context.Request.Method, route.Id, context.Response.StatusCode, code, elapsed);
            }
            else
            {
                Answered(logger, context.Request.Method, route.Id, context.Response.StatusCode, elapsed);
            }
        }
    }

    /// <summary>Right after authentication: who the caller is, on every record written from here on.</summary>
    public Task CallerScopeAsync(HttpContext context, Func<Task> next)
    {
        if (context.Features.Get<Caller>() is { } caller)
        {
            context.Features.Get<RequestScope>()?.Name(caller);
        }

        return next();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Answered {Method} {Route} with {Status} in {ElapsedMs:0.0} ms")]
    private static partial void Answered(ILogger logger, string method, string route, int status, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused {Method} {Route} with {Status} {Code} in {ElapsedMs:0.0} ms")]
    private static partial void Refused(ILogger logger, string method, string route, int status, string code, double elapsedMs);

    /// <summary>
    /// The request's scope: request id, client address and route from the start, the caller once authentication named one (until then,
    /// auth method "none"). One object per request; exporters that read a record's scopes after the request is over
    /// see its caller, which is the request's caller whenever the record was written.
    /// </summary>
    private sealed class RequestScope(string requestId, string clientAddress, string route) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private static readonly Who Nobody = new("none", null, null);
        private Who who = Nobody;

        public int Count => 6;

        public KeyValuePair<string, object?> this[int index]
        {
            get
            {
                var current = Volatile.Read(ref who);
                return index switch
                {
                    0 => new("RequestId", requestId),
                    1 => new("ClientAddress", clientAddress),
                    2 => new("Route", route),
                    3 => new("AuthMethod", current.Method),
                    4 => new("UserId", current.UserId),
                    5 => new("ApiKeyId", current.ApiKeyId),
                    _ => throw new ArgumentOutOfRangeException(nameof(index)),
                };
            }
        }

        public void Name(Caller caller) => Volatile.Write(ref who, new Who(caller.Method, caller.UserId.ToString(), caller.ApiKeyId));

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
            {
                yield return this[i];
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"RequestId:{requestId} ClientAddress:{clientAddress} Route:{route} AuthMethod:{Volatile.Read(ref who).Method}";

        private sealed record Who(string Method, string? UserId, string? ApiKeyId);
    }
}
