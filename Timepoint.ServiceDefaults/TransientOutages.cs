using System.Data.Common;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// An unhandled exception that means "a dependency is away for now" (a transient database error: connection refused or timed
/// out, the server shutting down) is a 503 upstream_unavailable with Retry-After, not a 500: nothing was half-done (every
/// change is one transaction) and the client should simply come back.
/// </summary>
public sealed class TransientOutageHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsTransient(exception) || httpContext.Response.HasStarted)
        {
            return false;
        }

        httpContext.Response.Headers.RetryAfter = Problems.RetryAfterSeconds;
        return await problems.TryWriteAsync(httpContext, exception, StatusCodes.Status503ServiceUnavailable, "Service unavailable",
            "A dependency of this service is unavailable; try again shortly.", ErrorCodes.UpstreamUnavailable);
    }

    public static bool IsTransient(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is DbException { IsTransient: true })
            {
                return true;
            }
        }

        return false;
    }
}

public static class ExceptionProblems
{
    /// <summary>An unhandled exception answered as this problem (through the problem-details service, so it gets the usual members).</summary>
    public static ValueTask<bool> TryWriteAsync(this IProblemDetailsService problems, HttpContext httpContext, Exception exception,
        int status, string title, string detail, string code)
    {
        httpContext.Response.StatusCode = status;
        return problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail, Extensions = { ["code"] = code } },
        });
    }
}
