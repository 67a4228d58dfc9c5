using System.Globalization;
using Microsoft.Extensions.Options;
using Timepoint.Gateway.Auth;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Timepoint.Gateway.Proxy;

/// <summary>
/// Adds the identity the edge vouches for to the proxied request: X-User-ID, X-Auth-Method, X-Api-Key-Id,
/// X-Request-ID, X-Gateway-Timestamp and X-Gateway-Signature over the path the backend will see; and on every request,
/// the client's address as the edge resolved it (<see cref="ClientAddress"/>): one clean X-Forwarded-For, signed with
/// X-Gateway-Client-Signature, so a backend sees the client the limits saw and believes no address the edge did not set.
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
            // No request model only when bench/run measures the edge without its pipeline (Gateway:Attribution:Off).
            var edge = transform.HttpContext.Features.Get<EdgeRequest>();
            var arrival = EdgeArrival.Of(transform.HttpContext);
            var headers = transform.ProxyRequest.Headers;
            headers.Remove(HeaderHygiene.RequestIdHeader);
            headers.TryAddWithoutValidation(HeaderHygiene.RequestIdHeader, arrival.RequestId);

            var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
            var path = transform.Path.HasValue ? transform.Path.Value! : "/";
            headers.Remove(GatewayHeaders.ForwardedFor);
            headers.Remove(GatewayHeaders.Timestamp);
            headers.TryAddWithoutValidation(GatewayHeaders.Timestamp, timestamp.ToString(CultureInfo.InvariantCulture));
            if (arrival.Client.Address is { } client)
            {
                var address = client.ToString();
                headers.TryAddWithoutValidation(GatewayHeaders.ForwardedFor, address);
                headers.TryAddWithoutValidation(GatewayHeaders.ClientSignature,
                    GatewayHeaders.SignClient(trust.Value.Secret, transform.ProxyRequest.Method.Method, path, address, timestamp));
            }

            if (edge?.Caller is { } caller)
            {
                var user = caller.UserId.ToString();
                headers.TryAddWithoutValidation(GatewayHeaders.UserId, user);
                headers.TryAddWithoutValidation(GatewayHeaders.AuthMethod, caller.Method);
                if (caller.ApiKeyId is not null)
                {
                    headers.TryAddWithoutValidation(GatewayHeaders.ApiKeyId, caller.ApiKeyId);
                }

                if (caller.SessionId is not null)
                {
                    headers.TryAddWithoutValidation(GatewayHeaders.SessionId, caller.SessionId);
                }

                headers.TryAddWithoutValidation(GatewayHeaders.Signature,
                    GatewayHeaders.Sign(trust.Value.Secret, transform.ProxyRequest.Method.Method, path, user, timestamp));
                if (edge.Metered)
                {
                    headers.TryAddWithoutValidation(GatewayHeaders.Metered, "true");
                }
            }

            return ValueTask.CompletedTask;
        });
    }
}
