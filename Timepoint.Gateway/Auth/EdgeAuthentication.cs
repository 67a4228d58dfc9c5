using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Timepoint.Gateway.Limits;
using Timepoint.Gateway.Routing;

namespace Timepoint.Gateway.Auth;

/// <summary>Authenticates the caller of a proxied route according to its access policy; refusals are problem+json.</summary>
public sealed class EdgeAuthentication(JwtValidator jwts, IApiKeyVerifier apiKeys, EdgeRateLimiter limiter,
    IOptionsMonitor<GatewayOptions> options, GatewayMetrics metrics)
{
    /// <summary>The rate-limit bucket of credentials that did not check out, counted per client address.</summary>
    public const string FailedBucket = "auth-failed";

    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var route = context.GetEdgeRoute()!;
        // Keys for the target service travel only on routes that need them.
        if (route.Access != Access.Admin)
        {
            context.Request.Headers.Remove(Microsoft.Extensions.Hosting.ServiceKeyExtensions.AdminKeyHeader);
        }

        if (route.Access != Access.Service)
        {
            context.Request.Headers.Remove(Microsoft.Extensions.Hosting.ServiceKeyExtensions.ServiceKeyHeader);
        }

        if (route.Access is Access.User or Access.Jwt)
        {
            var credential = Credentials.Read(context.Request);
            var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
            var failedLimit = options.CurrentValue.RateLimits.FailedAuthenticationsPerMinute;
            // An address over its budget of bad credentials is refused before its credentials are checked (no look-up).
            if (credential.Kind != CredentialKind.None && limiter.RememberedRefusal(FailedBucket, address, failedLimit) is { } refused)
            {
                await RefuseGuessingAsync(context, refused);
                return;
            }

            var (caller, problem) = await AuthenticateAsync(context, route, credential);
            if (problem is not null)
            {
                var code = (string)problem.ProblemDetails.Extensions["code"]!;
                metrics.AuthFailure(code, route.Id);
                // Only credentials that did not check out count: not a missing one, an expired token or a revoked key.
                if (code is ErrorCodes.JwtInvalid or ErrorCodes.KeyInvalid
                    && await limiter.HitAsync(FailedBucket, address, failedLimit) is { Allowed: false } over)
                {
                    await RefuseGuessingAsync(context, over);
                    return;
                }

                context.Items[Proxy.EdgeRequestLog.RefusalItem] = code;
                await Problems.WriteAsync(context, problem);
                return;
            }

            Credentials.Remove(context.Request);
            context.Features.Set(caller);
            metrics.Request(route.Id, caller!.Method);
        }
        else
        {
            // Credentials sent to a route that does not use them go no further: an API key never reaches a backend,
            // and Authorization only reaches identity (client authentication on /connect/token).
            context.Request.Headers.Remove(Credentials.ApiKeyHeader);
            if (route.Cluster != EdgeRoutes.Identity)
            {
                context.Request.Headers.Remove("Authorization");
            }

            metrics.Request(route.Id, "none");
        }

        await next();
    }

    private Task RefuseGuessingAsync(HttpContext context, RateDecision decision)
    {
        RateLimiting.WriteHeaders(context.Response, decision);
        return RateLimiting.RefuseAsync(context, decision, FailedBucket, metrics,
            $"Too many invalid credentials from this address ({decision.Limit} a minute)");
    }

    private async Task<(Caller?, ProblemHttpResult?)> AuthenticateAsync(HttpContext context, EdgeRoute route, Credential credential)
    {
        switch (credential.Kind)
        {
            case CredentialKind.None:
                return (null, Problems.Unauthorized(ErrorCodes.AuthMissing, "Send a Bearer token or an X-API-Key."));
            case CredentialKind.Ambiguous:
                return (null, Problems.Unauthorized(ErrorCodes.JwtInvalid, "Send exactly one credential: one Bearer token or one X-API-Key."));
            case CredentialKind.Malformed:
                return (null, Problems.Unauthorized(ErrorCodes.JwtInvalid, "The Authorization header must be 'Bearer <token>'."));
            case CredentialKind.Jwt:
                var outcome = await jwts.ValidateAsync(credential.Value, context.RequestAborted);
                return outcome.Verdict switch
                {
                    JwtVerdict.Valid => (outcome.Caller, null),
                    JwtVerdict.Expired => (null, Problems.Unauthorized(ErrorCodes.JwtExpired, outcome.Detail!)),
                    JwtVerdict.Unavailable => (null, Problems.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.UpstreamUnavailable,
                        "Service unavailable", "Tokens cannot be verified right now; try again shortly.")),
                    _ => (null, Problems.Unauthorized(ErrorCodes.JwtInvalid, outcome.Detail ?? "The access token is not valid.")),
                };
            default:
                var key = await apiKeys.VerifyAsync(credential.Value, context.RequestAborted);
                if (key.Problem is not null)
                {
                    return (null, key.Problem);
                }

                if (route.Access == Access.Jwt)
                {
                    return (null, Problems.Forbidden("This route needs a signed-in user; API keys cannot use it."));
                }

                if (route.Metered is not null && !key.Caller!.Scopes.Contains("generate"))
                {
                    return (null, Problems.Forbidden("This API key lacks the 'generate' scope needed for metered routes."));
                }

                return (key.Caller, null);
        }
    }
}

public readonly record struct ApiKeyOutcome(Caller? Caller, ProblemHttpResult? Problem);

/// <summary>Turns an API key into a caller, or a refusal.</summary>
public interface IApiKeyVerifier
{
    ValueTask<ApiKeyOutcome> VerifyAsync(string key, CancellationToken ct);
}
