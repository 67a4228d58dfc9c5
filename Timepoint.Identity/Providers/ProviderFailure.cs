using Microsoft.AspNetCore.Http.HttpResults;

namespace Timepoint.Identity.Providers;

/// <summary>Why a provider sign-in was refused; each maps to one problem+json answer, and none creates a user.</summary>
public enum ProviderFailureKind
{
    NotConfigured,
    InvalidToken,
    ExpiredToken,
    Rejected,
    Unavailable,
    BadRequest,
}

public sealed class ProviderFailure(ProviderFailureKind kind, string detail) : Exception(detail)
{
    public ProviderFailureKind Kind { get; } = kind;

    public static ProviderFailure NotConfigured(string provider) =>
        new(ProviderFailureKind.NotConfigured, $"Sign in with {provider} is not configured here.");

    public static ProviderFailure Invalid(string detail) => new(ProviderFailureKind.InvalidToken, detail);

    public static ProviderFailure Unavailable(string provider) =>
        new(ProviderFailureKind.Unavailable, $"{provider} did not answer in time or answered with an error; try again later.");

    /// <summary>The problem for this failure; a 401 also gets its <c>WWW-Authenticate: Bearer</c> (docs/contract.md#3-every-request).</summary>
    public ProblemHttpResult ToProblem(HttpContext http)
    {
        var problem = ToProblem();
        if (problem.StatusCode == StatusCodes.Status401Unauthorized)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
        }

        return problem;
    }

    private ProblemHttpResult ToProblem() => Kind switch
    {
        ProviderFailureKind.NotConfigured => Problems.Create(StatusCodes.Status503ServiceUnavailable, ProviderErrorCodes.NotConfigured,
            "Provider not configured", Message),
        ProviderFailureKind.InvalidToken => Problems.Unauthorized(ErrorCodes.JwtInvalid, Message),
        ProviderFailureKind.ExpiredToken => Problems.Unauthorized(ErrorCodes.JwtExpired, Message),
        ProviderFailureKind.Rejected => Problems.Unauthorized(ProviderErrorCodes.Rejected, Message),
        ProviderFailureKind.Unavailable => Problems.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.UpstreamUnavailable,
            "Provider unavailable", Message),
        _ => Problems.Validation(Message, status: StatusCodes.Status400BadRequest),
    };
}
