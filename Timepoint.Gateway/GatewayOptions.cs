using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Timepoint.Gateway;

/// <summary>Section <c>Gateway</c>.</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>
    /// The platform's public address (AppHost parameter <c>public-url</c>, the issuer identity puts in tokens). When it is
    /// https, TLS ends in front of the edge and every answer carries Strict-Transport-Security. Unset: a local http edge.
    /// </summary>
    [PublicUrl(ErrorMessage = "Gateway:PublicUrl (env Gateway__PublicUrl, the AppHost parameter public-url) must be an absolute http or "
        + "https URL whose path ends with '/', without user info, query or fragment, e.g. https://api.example.com/.")]
    public Uri? PublicUrl { get; set; }

    /// <summary>Overrides of a cluster's address (default <c>http://{cluster}</c>, resolved by service discovery).</summary>
    public Dictionary<string, string> Destinations { get; set; } = [];

    /// <summary>A backend that sends nothing for this long is cut off: 504 upstream_timeout.</summary>
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Total time a route's backend may take (route id -> time, e.g. <c>Gateway:RouteTimeouts:flash-generate-sync</c>);
    /// routes not named get <see cref="DefaultRouteTimeout"/>. Streaming routes have none: only the idle timeout applies.
    /// </summary>
    public Dictionary<string, TimeSpan> RouteTimeouts { get; set; } = [];

    public TimeSpan DefaultRouteTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Clock skew allowed on a JWT's exp and nbf.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often identity's keys are re-read even without an unknown kid.</summary>
    public TimeSpan JwksRefreshInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>At most one key refresh for an unknown kid per this interval.</summary>
    public TimeSpan JwksMinimumRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Validated tokens remembered (by hash, until exp) so a reused token pays for its signature once.</summary>
    [Range(0, 10_000_000)]
    public int ValidatedTokenCacheSize { get; set; } = 100_000;

    /// <summary>Origins allowed to call from a browser; <c>https://*.example.com</c> matches subdomains.</summary>
    public List<string> CorsOrigins { get; set; } = [];

    /// <summary>
    /// Addresses and CIDR networks of the proxies in front of the edge (a load balancer): only a connection from one of
    /// them has its <c>X-Forwarded-For</c> read, right to left, skipping these hops. Empty: the connection is the client.
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];

    public RateLimitOptions RateLimits { get; set; } = new();

    /// <summary>
    /// Whether a client's <c>X-Flash-Fail</c> (flash's failure injection) reaches flash. Off: the edge removes it. The AppHost
    /// turns it on only when started with <c>Flash:FailureInjection=true</c> (the end-to-end and security tests).
    /// </summary>
    public bool ForwardFailureInjection { get; set; }

    public RevocationOptions Revocations { get; set; } = new();

    public RequestLogOptions RequestLog { get; set; } = new();
}

/// <summary>
/// Section <c>Gateway:RequestLog</c>: which proxied requests end with a line in the log. Refused, failed (the edge's
/// 502/503/504 or a backend's 5xx), slow and metered requests always do; other successful requests at a ratio.
/// </summary>
public sealed class RequestLogOptions
{
    /// <summary>The share of successful, unmetered, not slow requests logged outside Development when <see cref="SuccessSampleRatio"/> is not set.</summary>
    public const double ProductionSuccessSampleRatio = 0.01;

    /// <summary>The share of successful, unmetered requests under <see cref="SlowThreshold"/> that are logged (0 to 1). Unset: all in Development, <see cref="ProductionSuccessSampleRatio"/> elsewhere.</summary>
    public double? SuccessSampleRatio { get; set; }

    /// <summary>A request that takes this long or longer is always logged.</summary>
    public TimeSpan SlowThreshold { get; set; } = TimeSpan.FromSeconds(1);

    public double SuccessSampleRatioIn(IHostEnvironment environment) =>
        SuccessSampleRatio ?? (environment.IsDevelopment() ? 1.0 : ProductionSuccessSampleRatio);
}

/// <summary>Section <c>Gateway:Revocations</c>: how the edge learns of revoked sessions.</summary>
public sealed class RevocationOptions
{
    /// <summary>
    /// How often identity's revoked-session list is read: the longest a revoked access token still works here
    /// (0.1 s to 1 min, checked at start by <see cref="GatewayOptionsValidation"/>).
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A list not read for this long makes the edge degraded.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>Stops the edge at start when a trusted proxy is neither an address nor a CIDR network.</summary>
public sealed class GatewayOptionsValidation : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        Proxy.TrustedProxies.Parse(options.TrustedProxies, out var invalid);
        List<string> failures = [.. invalid.Select(entry =>
            $"Gateway:TrustedProxies: '{entry}' is neither an IP address nor a CIDR network (such as 10.0.0.0/8 or 2001:db8::/32).")];
        // Nested sections are not checked by data annotations: a zero interval would read identity in a tight loop.
        if (options.Revocations.PollInterval < TimeSpan.FromMilliseconds(100) || options.Revocations.PollInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add("Gateway:Revocations:PollInterval must be between 00:00:00.100 and 00:01:00.");
        }

        if (options.RequestLog.SuccessSampleRatio is < 0 or > 1)
        {
            failures.Add("Gateway:RequestLog:SuccessSampleRatio must be between 0 and 1.");
        }

        if (options.RequestLog.SlowThreshold <= TimeSpan.Zero)
        {
            failures.Add("Gateway:RequestLog:SlowThreshold must be more than zero (e.g. 00:00:01).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

public sealed class RateLimitOptions
{
    [Range(1, 1_000_000)] public int AnonymousPerMinute { get; set; } = 60;
    [Range(1, 1_000_000)] public int ReadsPerMinute { get; set; } = 300;
    [Range(1, 1_000_000)] public int WritesPerMinute { get; set; } = 30;

    /// <summary>
    /// Unknown API keys per client address (not revoked or expired ones). Beyond it, until the window ends, keys from the
    /// address that are not already known to the edge are refused with 429 without asking identity, so guessing keys
    /// cannot turn into unbounded look-ups. Valid keys the edge knows and JWTs keep working.
    /// </summary>
    [Range(1, 1_000_000)] public int UnknownApiKeysPerMinute { get; set; } = 60;

    /// <summary>Metered (generation) calls per minute by tier.</summary>
    public Dictionary<string, int> Tiers { get; set; } = new() { ["free"] = 10, ["pro"] = 60, ["enterprise"] = 300 };
}
