using System.Globalization;
using Microsoft.Extensions.Options;
using Timepoint.Gateway.Auth;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Timepoint.Gateway.Proxy;

/// <summary>
/// Adds the identity the edge vouches for to the proxied request: X-User-ID, X-Auth-Method, X-Api-Key-Id,
/// X-Request-ID, X-Gateway-Timestamp and X-Gateway-Signature over the path the backend will see.
/// </summary>
public sealed class IdentityForwarding(IOptions<GatewayTrustOptions> trust, TimeProvider clock) : ITransformProvider
{
    public const string MeteredItem = "timepoint.metered";

    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context) =>
        // Added after the route's own transforms, so context.Path is already the backend's path.
        context.AddRequestTransform(transform =>
        {
            var http = transform.HttpContext;
            var headers = transform.ProxyRequest.Headers;
            headers.Remove(HeaderHygiene.RequestIdHeader);
            headers.TryAddWithoutValidation(HeaderHygiene.RequestIdHeader, http.GetRequestId());

            if (http.Features.Get<Caller>() is { } caller)
            {
                var user = caller.UserId.ToString();
                var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
                var path = transform.Path.HasValue ? transform.Path.Value! : "/";
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

                headers.TryAddWithoutValidation(GatewayHeaders.Timestamp, timestamp.ToString(CultureInfo.InvariantCulture));
                headers.TryAddWithoutValidation(GatewayHeaders.Signature,
                    GatewayHeaders.Sign(trust.Value.Secret, transform.ProxyRequest.Method.Method, path, user, timestamp));
                if (http.Items.ContainsKey(MeteredItem))
                {
                    headers.TryAddWithoutValidation(GatewayHeaders.Metered, "true");
                }
            }

            return ValueTask.CompletedTask;
        });
}
