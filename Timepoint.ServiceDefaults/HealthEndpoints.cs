using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>Builds the JSON body of a service's <c>/health</c> answer from the health report.</summary>
public delegate object HealthBody(HealthReport report);

public static class HealthEndpoints
{
    public const string LiveTag = "live";
    internal const string CachePolicy = "health";
    internal const string TimeoutPolicy = "health";
    internal static readonly TimeSpan CacheDuration = TimeSpan.FromSeconds(2);
    internal static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(3);
    internal static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <summary><c>{"status","service","version"}</c>, the shape docs/contract.md gives most services.</summary>
    public static HealthBody ServiceBody(string service, string version = "0.1.0") =>
        report => new { status = StatusText(report.Status), service, version };

    public static string StatusText(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };

    /// <summary>
    /// Adds problem+json error handling, then maps <c>/health</c> (readiness: every check) and <c>/alive</c> (liveness: only checks tagged live),
    /// in every environment, unauthenticated, cached briefly and bounded by a request timeout.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, HealthBody body)
    {
        // Unhandled exceptions and bare status codes become problem+json; never a stack trace, in any environment.
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRetryAfterOnEvery503();
        app.UseRequestTimeouts();
        app.UseOutputCache();

        app.MapHealthChecks(Extensions.HealthPath, new HealthCheckOptions { ResponseWriter = Write(body) })
            .CacheOutput(CachePolicy)
            .WithRequestTimeout(TimeoutPolicy)
            .AllowAnonymous();

        app.MapHealthChecks(Extensions.AlivePath, new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(LiveTag),
            ResponseWriter = Write(report => new { status = StatusText(report.Status) }),
        })
            .WithRequestTimeout(TimeoutPolicy)
            .AllowAnonymous();

        return app;
    }

    private static Func<HttpContext, HealthReport, Task> Write(HealthBody body) => (context, report) =>
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body(report), JsonOptions));
    };
}
