namespace Timepoint.Gateway.Routing;

/// <summary>Who may call a route (docs/contract.md#2-edge-routes).</summary>
public enum Access
{
    /// <summary>No credentials; any sent are ignored (a client refreshing may still carry its expired token).</summary>
    Public,
    /// <summary>A JWT or an API key.</summary>
    User,
    /// <summary>A JWT only.</summary>
    Jwt,
    /// <summary>The target service's X-Admin-Key, checked by that service; the edge forwards the header.</summary>
    Admin,
    /// <summary>The target service's X-Service-Key, checked by that service; the edge forwards the header.</summary>
    Service,
}

/// <summary>One row of the edge's routing table.</summary>
/// <param name="Methods">null: every method.</param>
/// <param name="DestinationPath">A YARP path pattern for the backend (e.g. <c>/api/v1/{**rest}</c>); null keeps the path.</param>
/// <param name="Metered">Credits are reserved before forwarding; the value names the cost operation, or "generate" for generate_{preset}.</param>
public sealed record EdgeRoute(
    string Id,
    string Cluster,
    string Path,
    string[]? Methods,
    Access Access,
    string? DestinationPath = null,
    string? Metered = null,
    bool Streaming = false);

/// <summary>API-key scopes (docs/contract.md#2-edge-routes); JWTs are not scope-limited.</summary>
public static class ApiKeyScope
{
    public const string Read = "read";
    public const string Write = "write";
    public const string Generate = "generate";
}

public static class EdgeRoutes
{
    /// <summary>
    /// The scope an API key needs for this route and method, on every route: <c>generate</c> for a metered route,
    /// <c>read</c> for GET and HEAD, <c>write</c> for any other method.
    /// </summary>
    public static string RequiredScope(this EdgeRoute route, string method) =>
        route.Metered is not null ? ApiKeyScope.Generate
        : HttpMethods.IsGet(method) || HttpMethods.IsHead(method) ? ApiKeyScope.Read
        : ApiKeyScope.Write;

    public const string Identity = "identity";
    public const string Credits = "credits";
    public const string Flash = "flash";
    public const string Clockchain = "clockchain";
    public const string Pro = "pro";

    public static readonly string[] Clusters = [Identity, Credits, Flash, Clockchain, Pro];

    private static readonly string[] Get = ["GET", "HEAD"];
    private static readonly string[] Post = ["POST"];

    public static readonly IReadOnlyList<EdgeRoute> All =
    [
        // Identity: sign-in and tokens (public), the caller's account, API keys, service and admin routes.
        new("auth-signin", Identity, "/api/v1/auth/{provider:regex(^(apple|google|github|demo|refresh)$)}", Post, Access.Public),
        new("auth-browser", Identity, "/api/v1/auth/{provider}/{step:regex(^(authorize|callback)$)}", Get, Access.Public),
        new("auth-logout", Identity, "/api/v1/auth/logout", Post, Access.Jwt),
        new("auth-me-read", Identity, "/api/v1/auth/me", Get, Access.User),
        new("auth-me-delete", Identity, "/api/v1/auth/me", ["DELETE"], Access.Jwt),
        new("auth-dev-token", Identity, "/api/v1/auth/dev/token", Post, Access.Admin),
        new("auth-service-token", Identity, "/api/v1/auth/service-token", Post, Access.Admin),
        new("auth-api-keys", Identity, "/api/v1/auth/api-keys/{**rest}", null, Access.Jwt),
        new("users-me", Identity, "/api/v1/users/me", ["GET", "HEAD", "PATCH"], Access.User),
        new("users-export", Identity, "/api/v1/users/me/export", Get, Access.Jwt),
        new("users-resolve", Identity, "/api/v1/users/resolve", Post, Access.Service),
        new("users-admin", Identity, "/api/v1/users/admin/{**rest}", ["GET", "HEAD", "PATCH"], Access.Admin),
        new("oidc-discovery", Identity, "/.well-known/{**rest}", Get, Access.Public),
        new("oidc-connect", Identity, "/connect/{**rest}", null, Access.Public),

        // Credits.
        new("credits-costs", Credits, "/api/v1/credits/costs", Get, Access.Public),
        new("credits-read", Credits, "/api/v1/credits/{what:regex(^(balance|history)$)}", Get, Access.User),
        new("credits-grant", Credits, "/api/v1/credits/admin/grant", Post, Access.Admin),

        // Flash: generation is metered; the stream is exempt from the response timeout, not from idleness.
        new("flash-generate-sync", Flash, "/api/v1/timepoints/generate/sync", Post, Access.User, Metered: "generate"),
        new("flash-generate-stream", Flash, "/api/v1/timepoints/generate/stream", Post, Access.User, Metered: "generate", Streaming: true),
        new("flash-generate", Flash, "/api/v1/timepoints/generate", Post, Access.User, Metered: "generate"),
        new("flash-timepoints", Flash, "/api/v1/timepoints/{**rest}", null, Access.User),
        new("flash-my-timepoints", Flash, "/api/v1/users/me/timepoints", Get, Access.User),

        // Clockchain: public reads with the prefix stripped (/api/v1/clockchain/stats -> /api/v1/stats).
        new("clockchain-read", Clockchain, "/api/v1/clockchain/{**rest}", Get, Access.Public, DestinationPath: "/api/v1/{**rest}"),
        new("clockchain-write", Clockchain, "/api/v1/clockchain/{**rest}", ["POST", "PUT", "PATCH", "DELETE"], Access.User,
            DestinationPath: "/api/v1/{**rest}"),

        // Pro Cloud.
        new("pro-simulate", Pro, "/api/v1/conductor/pro/simulate", Post, Access.User, DestinationPath: "/api/v1/simulate",
            Metered: "conductor_pro_sim"),
    ];
}
