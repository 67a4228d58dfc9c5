using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Microsoft.Extensions.Hosting;

/// <summary>The <c>code</c> member of every platform error (docs/contract.md#3-every-request).</summary>
public static class ErrorCodes
{
    public const string AuthMissing = "auth.missing";
    public const string JwtInvalid = "auth.jwt_invalid";
    public const string JwtExpired = "auth.jwt_expired";
    public const string KeyInvalid = "auth.key_invalid";
    public const string KeyRevoked = "auth.key_revoked";
    public const string TokenRevoked = "auth.token_revoked";
    public const string Forbidden = "auth.forbidden";
    public const string InsufficientCredits = "auth.insufficient_credits";
    public const string KeyCreditLimit = "auth.key_credit_limit";
    public const string RateLimited = "rate_limited";
    public const string ValidationFailed = "validation_failed";
    public const string NotFound = "not_found";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string Conflict = "conflict";
    public const string UpstreamUnavailable = "upstream_unavailable";
    public const string UpstreamTimeout = "upstream_timeout";
    public const string Internal = "internal_error";

    /// <summary>The code for a problem the framework raised itself (bad JSON, unknown route, unhandled exception).</summary>
    public static string ForStatus(int status) => status switch
    {
        400 or 413 or 415 or 422 or 431 => ValidationFailed,
        401 => AuthMissing,
        403 => Forbidden,
        404 => NotFound,
        405 => MethodNotAllowed,
        409 => Conflict,
        429 => RateLimited,
        502 or 503 => UpstreamUnavailable,
        504 => UpstreamTimeout,
        _ => Internal,
    };
}

/// <summary>RFC 9457 problem details with the platform's <c>code</c> member; never a stack trace, SQL or type name.</summary>
public static class Problems
{
    /// <summary>What a 503 asks the client to wait before trying again.</summary>
    public const string RetryAfterSeconds = "5";

    public static ProblemHttpResult Create(int status, string code, string title, string? detail = null,
        IDictionary<string, object?>? extensions = null)
    {
        var members = new Dictionary<string, object?> { ["code"] = code };
        if (extensions is not null)
        {
            foreach (var (key, value) in extensions)
            {
                members[key] = value;
            }
        }

        return TypedResults.Problem(detail: detail, statusCode: status, title: title, extensions: members);
    }

    public static ProblemHttpResult Unauthorized(string code, string detail) =>
        Create(StatusCodes.Status401Unauthorized, code, "Unauthorized", detail);

    public static ProblemHttpResult Forbidden(string detail) =>
        Create(StatusCodes.Status403Forbidden, ErrorCodes.Forbidden, "Forbidden", detail);

    public static ProblemHttpResult NotFound(string detail) =>
        Create(StatusCodes.Status404NotFound, ErrorCodes.NotFound, "Not Found", detail);

    /// <summary>422 with the offending fields: <c>errors: {field: [messages]}</c>.</summary>
    public static ProblemHttpResult Validation(string detail, IDictionary<string, string[]>? errors = null, int status = StatusCodes.Status422UnprocessableEntity) =>
        Create(status, ErrorCodes.ValidationFailed, "Validation failed", detail,
            errors is null ? null : new Dictionary<string, object?> { ["errors"] = errors });

    public static ProblemHttpResult Validation(string field, string message) =>
        Validation(message, new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>Writes a problem straight to the response, for middleware that ends the pipeline.</summary>
    public static async Task WriteAsync(HttpContext context, ProblemHttpResult problem)
    {
        if (problem.StatusCode == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        await problem.ExecuteAsync(context);
    }

    /// <summary>
    /// A 503 is "come back later": every one says when (docs/contract.md#3-every-request), whoever built it (a problem result, a middleware, a
    /// health check, a proxied backend), so that no route can forget it. Registered by <c>MapDefaultEndpoints</c>.
    /// </summary>
    public static IApplicationBuilder UseRetryAfterOnEvery503(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            context.Response.OnStarting(static state =>
            {
                var response = ((HttpContext)state).Response;
                if (response.StatusCode == StatusCodes.Status503ServiceUnavailable && !response.Headers.ContainsKey("Retry-After"))
                {
                    response.Headers.RetryAfter = RetryAfterSeconds;
                }

                return Task.CompletedTask;
            }, context);
            return next(context);
        });
}

/// <summary>
/// Writes problem+json whatever the request's Accept says. ASP.NET's own writer declines when Accept names no JSON type, and
/// the status-code pages then answer text/plain (the seeded fuzzer found 404 and 405 as text/plain for <c>Accept:
/// application/xml</c>); the contract promises problem+json for every error. Registered after the built-in writer, so it
/// only takes what that one declines.
/// </summary>
internal sealed class ProblemJsonFallbackWriter(Microsoft.Extensions.Options.IOptions<ProblemDetailsOptions> options) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        var http = context.HttpContext;
        problem.Status ??= http.Response.StatusCode;
        problem.Title ??= Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(problem.Status.Value);
        options.Value.CustomizeProblemDetails?.Invoke(context);
        return new ValueTask(http.Response.WriteAsJsonAsync(problem, problem.GetType(), options: (System.Text.Json.JsonSerializerOptions?)null,
            contentType: "application/problem+json", http.RequestAborted));
    }
}
