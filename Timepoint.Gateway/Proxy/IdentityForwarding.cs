using System.Globalization;
using Microsoft.Extensions.Options;
using Timepoint.Gateway.Auth;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Timepoint.Gateway.Proxy;

/// <summary>
/// Adds what the edge vouches for to the proxied request, signed as one (<see cref="GatewayForward"/>, v2): the method,
/// the path and query the backend will see, X-Request-ID, a fresh X-Gateway-Nonce, X-Gateway-Timestamp, the client's
/// address as the edge resolved it (<see cref="ClientAddress"/>: one clean X-Forwarded-For, on every request), and for
/// a caller X-User-ID, X-Auth-Method, X-Api-Key-Id and X-Auth-Session; on a metered call the reservation and its price
/// (X-Gateway-Reservation, X-Gateway-Price), so a backend does metered work only for a call the edge charged.
/// </summary>
public sealed class IdentityForwarding(IOptions<GatewayTrustOptions> trust, TimeProvider clock) : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        // YARP's default X-Forwarded-For would name the connection (a balancer): the edge sets its own below, and keeps
        // YARP's other X-Forwarded-* defaults.
        context.UseDefaultForwarders = false;
        context.AddXForwardedProto();
        context.AddXForwardedHost();
        context.AddXForwardedPrefix();

        // What a backend runs on is not the client's business (the edge's own Kestrel sends no Server header either).
        context.AddResponseHeaderRemove(Microsoft.Net.Http.Headers.HeaderNames.Server, ResponseCondition.Always);
        context.AddResponseHeaderRemove("X-Powered-By", ResponseCondition.Always);

        // Added after the route's own transforms, so context.Path is already the backend's path.
        context.AddRequestTransform(transform =>
        {
            var edge = EdgeRequest.Of(transform.HttpContext);
            var caller = edge.Caller;
            var forward = new GatewayForward(
                transform.ProxyRequest.Method.Method,
                (transform.Path.HasValue ? transform.Path.Value! : "/") + transform.Query.QueryString.Value,
                edge.RequestId,
                GatewayForward.NewNonce(),
                clock.GetUtcNow().ToUnixTimeSeconds(),
                edge.Client.Address?.ToString() ?? "",
                caller?.UserId.ToString() ?? "",
                caller?.Method ?? "",
                caller?.ApiKeyId ?? "",
                caller?.SessionId ?? "",
                edge.ReservationId?.ToString() ?? "",
                edge.Metered ? edge.Charged.ToString(CultureInfo.InvariantCulture) : "");
            var headers = transform.ProxyRequest.Headers;
            foreach (var (name, value) in forward.Headers(trust.Value.Secret))
            {
                headers.Remove(name);
                headers.TryAddWithoutValidation(name, value);
            }

            return ValueTask.CompletedTask;
        });
    }
}
