using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Timepoint.Gateway.Routing;

/// <summary>Turns the routing table into YARP routes and clusters whose destinations are found by service discovery.</summary>
public static class ProxyConfig
{
    public static (IReadOnlyList<RouteConfig> Routes, IReadOnlyList<ClusterConfig> Clusters) Build(GatewayOptions options)
    {
        var policies = RoutePolicy.Build(options);
        var routes = EdgeRoutes.All.Select(route => new RouteConfig
        {
            RouteId = route.Id,
            ClusterId = route.Cluster,
            Match = new RouteMatch { Path = route.Path, Methods = route.Methods },
            Transforms = route.DestinationPath is null ? null : [new Dictionary<string, string> { ["PathPattern"] = route.DestinationPath }],
            Timeout = policies[route.Id].Timeout,
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
}
