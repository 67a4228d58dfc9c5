using System.Collections;
using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Timepoint.Gateway.Proxy;

/// <summary>
/// Puts the request id, client address (the one the limits use), route, auth method and user id on every log record written while the edge handles a proxied
/// request (as a logging scope, which the dashboard shows as attributes), and ends the request with one line: always when it
/// was refused, failed, slow or metered; for other successes at <see cref="RequestLogOptions.SuccessSampleRatio"/>.
/// Never a credential: only what the edge derived from it.
/// </summary>
public sealed partial class EdgeRequestLog(ILogger<EdgeRequestLog> logger, GatewayMetrics metrics, IOptionsMonitor<GatewayOptions> options,
    IHostEnvironment environment)
{
    /// <summary>One scope for the whole request: every record written while the edge handles it carries the request's fields.</summary>
    public IDisposable? Begin(EdgeRequest edge) => logger.BeginScope(new RequestScope(edge));

    /// <summary>The line that ends the request: a refusal is named and counted as one, whichever step refused.</summary>
    public void End(EdgeRequest edge)
    {
        var context = edge.Context;
        var elapsed = Stopwatch.GetElapsedTime(edge.StartedAt);
        if (edge.Refusal is { } refusal)
        {
            metrics.Refused(edge.Route.Id, refusal.Code);
            Refused(logger, context.Request.Method, edge.Route.Id, context.Response.StatusCode, refusal.Code, elapsed.TotalMilliseconds);
        }
        else if (edge.Failure is { } failure)
        {
            Failed(logger, context.Request.Method, edge.Route.Id, context.Response.StatusCode, failure.Code, elapsed.TotalMilliseconds);
        }
        else if (Logs(edge, context.Response.StatusCode, elapsed))
        {
            Answered(logger, context.Request.Method, edge.Route.Id, context.Response.StatusCode, elapsed.TotalMilliseconds);
        }
    }

    /// <summary>Whether an answered request gets its line: a backend's 5xx, a slow or a metered call always; the rest at the ratio.</summary>
    private bool Logs(EdgeRequest edge, int status, TimeSpan elapsed)
    {
        var settings = options.CurrentValue.RequestLog;
        if (status >= 500 || edge.Route.MeteredOperation is not null || elapsed >= settings.SlowThreshold)
        {
            return true;
        }

        var ratio = settings.SuccessSampleRatioIn(environment);
        return ratio >= 1 || (ratio > 0 && Random.Shared.NextDouble() < ratio);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Answered {Method} {Route} with {Status} in {ElapsedMs:0.0} ms")]
    private static partial void Answered(ILogger logger, string method, string route, int status, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused {Method} {Route} with {Status} {Code} in {ElapsedMs:0.0} ms")]
    private static partial void Refused(ILogger logger, string method, string route, int status, string code, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Failed {Method} {Route} with {Status} {Code} in {ElapsedMs:0.0} ms")]
    private static partial void Failed(ILogger logger, string method, string route, int status, string code, double elapsedMs);

    /// <summary>
    /// The request's scope: request id, client address and route from the start, the caller once authentication named one (until then,
    /// auth method "none"). One object per request, a view of its <see cref="EdgeRequest"/>: exporters that read a record's scopes
    /// after the request is over see its caller, which is the request's caller whenever the record was written.
    /// </summary>
    private sealed class RequestScope(EdgeRequest edge) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private string? clientAddress;
        private string? userId;

        public int Count => 6;

        public KeyValuePair<string, object?> this[int index]
        {
            get
            {
                var caller = edge.Caller;
                return index switch
                {
                    0 => new("RequestId", edge.RequestId),
                    1 => new("ClientAddress", clientAddress ??= edge.Client.ToString()),
                    2 => new("Route", edge.Route.Id),
                    3 => new("AuthMethod", caller?.Method ?? "none"),
                    4 => new("UserId", caller is null ? null : userId ??= caller.UserId.ToString()),
                    5 => new("ApiKeyId", caller?.ApiKeyId),
                    _ => throw new ArgumentOutOfRangeException(nameof(index)),
                };
            }
        }

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
            {
                yield return this[i];
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() =>
            $"RequestId:{edge.RequestId} ClientAddress:{edge.Client} Route:{edge.Route.Id} AuthMethod:{edge.Caller?.Method ?? "none"}";
    }
}
