using System.Diagnostics;
using Microsoft.AspNetCore.Http.Timeouts;
using Yarp.ReverseProxy.Forwarder;

namespace Timepoint.Gateway.Proxy;

/// <summary>Turns a failed forward into problem+json: 504 upstream_timeout for a silent backend, 502/503 upstream_unavailable otherwise.</summary>
public sealed class UpstreamErrors(GatewayMetrics metrics)
{
    /// <summary>Forwards through <paramref name="next"/>, times the backend, and answers a failed forward with a problem.</summary>
    public async Task ForwardAsync(EdgeRequest edge, Func<Task> next)
    {
        var context = edge.Context;
        var started = Stopwatch.GetTimestamp();
        await next();
        var route = edge.Route;
        metrics.Upstream(route.Id, context.Response.StatusCode, Stopwatch.GetElapsedTime(started));

        var error = context.Features.Get<IForwarderErrorFeature>();
        if (error is null || context.Response.HasStarted)
        {
            return;
        }

        // The route's own timeout cancels the request like a departing client would; its timeout token tells them apart.
        var routeTimedOut = context.Features.Get<IHttpRequestTimeoutFeature>()?.RequestTimeoutToken.IsCancellationRequested == true;
        var clientError = error.Error == ForwarderError.RequestBodyClient ? ClientError(error.Exception) : null;
        var problem = (error.Error, routeTimedOut) switch
        {
            (ForwarderError.RequestTimedOut, _) or (ForwarderError.RequestCanceled, true) => Problems.Create(StatusCodes.Status504GatewayTimeout, ErrorCodes.UpstreamTimeout,
                "Upstream timeout", $"The {route.Cluster} service did not answer in time."),
            (ForwarderError.NoAvailableDestinations, _) => Problems.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.UpstreamUnavailable,
                "Upstream unavailable", $"The {route.Cluster} service is unavailable."),
            (ForwarderError.RequestCanceled, false) => null, // the client went away
            // The client's body broke Kestrel's limits while it was being forwarded (e.g. over MaxRequestBodySize): its fault, its status.
            (ForwarderError.RequestBodyClient, _) when clientError is { } bad => Problems.Create(bad.StatusCode,
                ErrorCodes.ForStatus(bad.StatusCode), bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Payload too large" : "Bad request", bad.Message),
            // Nobody listening (the service is down or restarting): come back later, 503 with Retry-After.
            (ForwarderError.Request, _) when error.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } =>
                Problems.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.UpstreamUnavailable,
                    "Upstream unavailable", $"The {route.Cluster} service is unavailable."),
            _ => Problems.Create(StatusCodes.Status502BadGateway, ErrorCodes.UpstreamUnavailable,
                "Upstream unavailable", $"The {route.Cluster} service could not be reached."),
        };
        if (problem is not null)
        {
            // Clear drops what the backend began to send, and the edge's own headers with it: its rate-limit headers and
            // the request id stay.
            var limits = Limits.RateLimiting.Headers.Select(name => (name, value: context.Response.Headers[name])).Where(h => h.value.Count > 0).ToArray();
            context.Response.Clear();
            foreach (var (name, value) in limits)
            {
                context.Response.Headers[name] = value;
            }

            context.Response.Headers[HeaderHygiene.RequestIdHeader] = edge.RequestId;

            // The client's own fault is a refusal; anything else, a failure of the backend call.
            await (clientError is not null ? edge.RefuseAsync(problem) : edge.FailAsync(problem));
        }
    }

    private static BadHttpRequestException? ClientError(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is BadHttpRequestException bad)
            {
                return bad;
            }
        }

        return null;
    }
}
