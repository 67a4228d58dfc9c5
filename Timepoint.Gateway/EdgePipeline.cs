using Timepoint.Gateway.Auth;
using Timepoint.Gateway.Limits;
using Timepoint.Gateway.Metering;
using Timepoint.Gateway.Proxy;

namespace Timepoint.Gateway;

/// <summary>
/// What the edge does with every proxied request, in order. Each step reads and writes the request's one
/// <see cref="EdgeRequest"/>; a step that refuses answers through <see cref="EdgeRequest.RefuseAsync(Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult)"/>
/// and nothing after it runs. Before this, for every request: header hygiene (<see cref="HeaderHygiene"/>), HSTS and CORS.
/// </summary>
public sealed class EdgePipeline(EdgeRequestLog log, EdgeAuthentication authentication, RateLimiting rateLimiting,
    UpstreamErrors upstream, CreditsMetering metering)
{
    public async Task InvokeAsync(HttpContext context, Func<Task> forward)
    {
        // The request's model: its route's policy (one look-up), request id and client, and one log scope for all of it.
        var edge = EdgeRequest.Begin(context);
        using (log.Begin(edge))
        {
            await CheckAndForwardAsync(edge, forward);

            // One line that says how the request ended; a refusal is counted as one.
            log.End(edge);
        }
    }

    private async Task CheckAndForwardAsync(EdgeRequest edge, Func<Task> forward)
    {
        // 1. Who is calling, as the route's access asks; credentials the route does not use are dropped.
        await authentication.AuthenticateAsync(edge);
        if (edge.Refused)
        {
            return;
        }

        // 2. The caller's (or the address's) budget.
        await rateLimiting.AdmitAsync(edge);
        if (edge.Refused)
        {
            return;
        }

        // 3. Forward with the signed identity (IdentityForwarding); a failed forward becomes a problem. A metered route
        //    reserves its credits first and settles or refunds them by the backend's answer.
        await upstream.ForwardAsync(edge, edge.Route.MeteredOperation is null ? forward : () => metering.ForwardAsync(edge, forward));
    }
}
