using Timepoint.Gateway.Auth;

namespace Timepoint.Gateway.Routing;

/// <summary>Which budget a request spends (SPEC.md section 3).</summary>
public enum RateClass
{
    /// <summary>No caller: per client address.</summary>
    Anonymous,
    /// <summary>A caller's GET or HEAD.</summary>
    Read,
    /// <summary>A caller's other methods.</summary>
    Write,
    /// <summary>A caller's metered call: by the caller's tier.</summary>
    Tier,
}

/// <summary>
/// A row of the routing table with everything the edge decides from it, worked out once at start: who may call it, which budget
/// a call spends, what it is metered as and how long its backend may take. The YARP endpoint of the route carries it as
/// metadata, so a request finds its policy with one look-up (<see cref="EdgeRequest"/>).
/// </summary>
public sealed class RoutePolicy
{
    private RoutePolicy(EdgeRoute route, TimeSpan? timeout)
    {
        Route = route;
        Timeout = timeout;
    }

    public EdgeRoute Route { get; }

    public string Id => Route.Id;

    public string Cluster => Route.Cluster;

    public Access Access => Route.Access;

    /// <summary>The cost operation ("generate" for generate_{preset}), or null on a route that is not metered.</summary>
    public string? MeteredOperation => Route.Metered;

    public bool Streaming => Route.Streaming;

    /// <summary>Total time the backend may take; null on a streaming route (only the idle timeout applies).</summary>
    public TimeSpan? Timeout { get; }

    /// <summary>Whether credentials are read at all (the other routes drop any a client sent).</summary>
    public bool Authenticates => Access is Access.User or Access.Jwt;

    public RateClass RateClassFor(Caller? caller, string method) =>
        caller is null ? RateClass.Anonymous
        : MeteredOperation is not null ? RateClass.Tier
        : HttpMethods.IsGet(method) || HttpMethods.IsHead(method) ? RateClass.Read
        : RateClass.Write;

    /// <summary>The scope an API key needs for this route and method (<see cref="EdgeRoutes.RequiredScope"/>).</summary>
    public string RequiredScope(string method) => Route.RequiredScope(method);

    /// <summary>Every route's policy under these options, by route id.</summary>
    public static IReadOnlyDictionary<string, RoutePolicy> Build(GatewayOptions options) =>
        EdgeRoutes.All.ToDictionary(route => route.Id, route => new RoutePolicy(route,
            route.Streaming ? null : options.RouteTimeouts.GetValueOrDefault(route.Id, options.DefaultRouteTimeout)));
}
