using Yarp.ReverseProxy.Model;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Timepoint.Gateway.Routing;

/// <summary>Turns the routing table into YARP routes and clusters whose destinations are found by service discovery.</summary>
public static class ProxyConfig
{
    public const string RouteKey = "edge-route";

    public static (IReadOnlyList<RouteConfig> Routes, IReadOnlyList<ClusterConfig> Clusters) Build(GatewayOptions options)
    {
        var routes = EdgeRoutes.All.Select(route => new RouteConfig
        {
            RouteId = route.Id,
            ClusterId = route.Cluster,
            Match = new RouteMatch { Path = route.Path, Methods = route.Methods },
            Metadata = new Dictionary<string, string> { [RouteKey] = route.Id },
            Transforms = route.DestinationPath is null ? null : [new Dictionary<string, string> { ["PathPattern"] = route.DestinationPath }],
            Timeout = route.Streaming ? null : options.RouteTimeouts.GetValueOrDefault(route.Id, options.DefaultRouteTimeout),
        }).ToList();

        var clusters = EdgeRoutes.Clusters.Select(cluster => new ClusterConfig
        {
            ClusterId = cluster,
            Destinations = new Dictionary<string, DestinationConfig>
            {
                ["primary"] = new() { Address = options.Destinations.GetValueOrDefault(cluster) ?? $"http://{cluster}" },
            },
            HttpRequest = new ForwarderRequestConfig
            {
                // Idle time without a byte from the backend; streaming answers keep it alive as they flow.
                ActivityTimeout = options.UpstreamTimeout,
            },
        }).ToList();

        return (routes, clusters);
    }

    private static readonly Dictionary<string, EdgeRoute> ById = EdgeRoutes.All.ToDictionary(r => r.Id);

    /// <summary>The table row of the YARP route serving this request, if any.</summary>
    public static EdgeRoute? GetEdgeRoute(this HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata.GetMetadata<RouteModel>()?.Config.Metadata;
        return metadata is not null && metadata.TryGetValue(RouteKey, out var id) ? ById[id] : null;
    }
}
