using System.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Timepoint.Gateway.Auth;
using Timepoint.Gateway.Proxy;
using Timepoint.Gateway.Routing;

namespace Timepoint.Gateway;

/// <summary>Why the edge answered a request itself (a refusal), or how the backend call failed: the problem's status and code.</summary>
public sealed record EdgeProblem(int Status, string Code);

/// <summary>
/// One proxied request as the edge sees it, created once when the pipeline (<see cref="EdgePipeline"/>) starts and read
/// and written by every step after: the route with its policy, the request id, the client, the caller once authenticated,
/// the refusal or upstream failure, and the charge of a metered call. Steps hand nothing to each other any other way.
/// </summary>
public sealed class EdgeRequest
{
    private string? clientLimitKey;
    private Caller? caller;

    private EdgeRequest(HttpContext context, RoutePolicy route, EdgeArrival arrival)
    {
        Context = context;
        Route = route;
        RequestId = arrival.RequestId;
        Client = arrival.Client;
    }

    public HttpContext Context { get; }

    public RoutePolicy Route { get; }

    /// <summary>The sane X-Request-ID the edge answers with and forwards (<see cref="HeaderHygiene"/>).</summary>
    public string RequestId { get; }

    /// <summary>The client the request is for (<see cref="ClientAddress"/>).</summary>
    public ClientAddress Client { get; }

    /// <summary>The key of per-address limits (<see cref="ClientAddress.LimitKey"/>), worked out once.</summary>
    public string ClientLimitKey => clientLimitKey ??= Client.LimitKey;

    public long StartedAt { get; } = Stopwatch.GetTimestamp();

    /// <summary>Who authentication named; null on a public route, or until then. Read by log exporters on other threads.</summary>
    public Caller? Caller => Volatile.Read(ref caller);

    /// <summary>The caller's auth method, or <c>none</c>.</summary>
    public string AuthMethod => Caller?.Method ?? "none";

    /// <summary>The edge answered with a problem of its own (and forwarded nothing after it).</summary>
    public EdgeProblem? Refusal { get; private set; }

    public bool Refused => Refusal is not null;

    /// <summary>The backend could not be reached or did not answer in time: the edge answered with this problem instead.</summary>
    public EdgeProblem? Failure { get; private set; }

    /// <summary>Credits are reserved for this call; the backend is told (the signed X-Gateway-Reservation and X-Gateway-Price) and the reservation settled after.</summary>
    public bool Metered => ReservationId is not null;

    public Guid? ReservationId { get; private set; }

    /// <summary>What the reservation charged (stands only on the backend's 2xx).</summary>
    public long Charged { get; private set; }

    /// <summary>The request's model: the one <see cref="EdgePipeline"/> began.</summary>
    public static EdgeRequest Of(HttpContext context) => context.Features.Get<EdgeRequest>()!;

    /// <summary>The model of a request on a proxied route; its policy is the YARP endpoint's metadata.</summary>
    public static EdgeRequest Begin(HttpContext context)
    {
        var route = context.GetEndpoint()?.Metadata.GetMetadata<RoutePolicy>()
            ?? throw new InvalidOperationException("The endpoint carries no route policy: every proxied route is built by ProxyConfig.");
        var edge = new EdgeRequest(context, route, EdgeArrival.Of(context));
        context.Features.Set(edge);
        return edge;
    }

    public void Authenticated(Caller who) => Volatile.Write(ref caller, who);

    public void Reserved(Guid reservationId, long charged)
    {
        ReservationId = reservationId;
        Charged = charged;
    }

    /// <summary>
    /// The one way the edge refuses a request: the refusal is kept here (the request log names it and counts it) and its
    /// problem is the answer.
    /// </summary>
    public Task RefuseAsync(ProblemHttpResult problem)
    {
        Refusal = new EdgeProblem(problem.StatusCode, CodeOf(problem));
        return Problems.WriteAsync(Context, problem);
    }

    /// <summary>A refusal another service wrote (credits' own problem, relayed as it is): kept here, then <paramref name="write"/> answers.</summary>
    public Task RefuseAsync(int status, string code, Func<HttpResponse, Task> write)
    {
        Refusal = new EdgeProblem(status, code);
        Context.Response.StatusCode = status;
        return write(Context.Response);
    }

    /// <summary>The backend call failed: the failure is kept here (the log names it) and its problem is the answer.</summary>
    public Task FailAsync(ProblemHttpResult problem)
    {
        Failure = new EdgeProblem(problem.StatusCode, CodeOf(problem));
        return Problems.WriteAsync(Context, problem);
    }

    private static string CodeOf(ProblemHttpResult problem) =>
        problem.ProblemDetails.Extensions.TryGetValue("code", out var code) && code is string text ? text : ErrorCodes.ForStatus(problem.StatusCode);
}
