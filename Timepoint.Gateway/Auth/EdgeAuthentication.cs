using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Timepoint.Gateway.Limits;
using Timepoint.Gateway.Proxy;
using Timepoint.Gateway.Routing;

namespace Timepoint.Gateway.Auth;

/// <summary>
/// Authenticates the caller of a proxied route according to its access policy; refusals are problem+json.
/// <para>
/// Unknown API keys are counted per client address (<see cref="RateLimitOptions.UnknownApiKeysPerMinute"/>). Once an
/// address has spent that budget, its keys are not looked up at identity until the window ends (429 instead), so guessing
/// keys cannot cost identity a look-up per guess. Keys whose verdict is known here, and JWTs (checked locally), still work.
/// </para>
/// </summary>
public sealed class EdgeAuthentication(JwtValidator jwts, IApiKeyVerifier apiKeys, EdgeRateLimiter limiter,
    IOptionsMonitor<GatewayOptions> options, TimeProvider clock, GatewayMetrics metrics)
{
    /// <summary>The rate-limit bucket of unknown API keys, counted per client address.</summary>
    public const string UnknownKeysBucket = "unknown-api-keys";

    // Addresses whose budget of unknown API keys is spent, with the end of that window (this replica's memory): until
    // then their keys are not looked up at identity, unless the verdict is already known here.
    private readonly ConcurrentDictionary<string, long> guessing = new();

    /// <summary>Names the caller on <paramref name="edge"/>, or refuses the request; drops every credential the route does not use.</summary>
    public async Task AuthenticateAsync(EdgeRequest edge)
    {
        var context = edge.Context;
        var route = edge.Route;
        // Keys for the target service travel only on routes that need them.
        if (route.Access != Access.Admin)
        {
            context.Request.Headers.Remove(Microsoft.Extensions.Hosting.ServiceKeyExtensions.AdminKeyHeader);
        }

        if (route.Access != Access.Service)
        {
            context.Request.Headers.Remove(Microsoft.Extensions.Hosting.ServiceKeyExtensions.ServiceKeyHeader);
        }

        if (route.Authenticates)
        {
            var credential = Credentials.Read(context.Request);
            var address = edge.ClientLimitKey;
            var limit = options.CurrentValue.RateLimits.UnknownApiKeysPerMinute;
            if (credential.Kind == CredentialKind.ApiKey && Guessing(address, limit) is { } refused && !apiKeys.IsKnown(credential.Value))
            {
                await RefuseGuessingAsync(edge, refused);
                return;
            }

            var (caller, problem) = await AuthenticateAsync(context, route, credential);
            if (problem is not null)
            {
                var code = (string)problem.ProblemDetails.Extensions["code"]!;
                metrics.AuthFailure(code, route.Id);
                if (code == ErrorCodes.KeyInvalid && await limiter.HitAsync(UnknownKeysBucket, address, limit) is { Allowed: false } over)
                {
                    Remember(address, over.ResetAt);
                    await RefuseGuessingAsync(edge, over);
                    return;
                }

                await edge.RefuseAsync(problem);
                return;
            }

            Credentials.Remove(context.Request);
            edge.Authenticated(caller!);
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
    }

    /// <summary>The refusal of an address whose budget of unknown keys is spent in this window; null if it is not.</summary>
    private RateDecision? Guessing(string address, int limit)
    {
        if (!guessing.TryGetValue(address, out var resetAt))
        {
            return null;
        }

        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        if (resetAt <= now)
        {
            guessing.TryRemove(new KeyValuePair<string, long>(address, resetAt));
            return null;
        }

        return new RateDecision(false, limit, 0, resetAt, (int)(resetAt - now));
    }

    private void Remember(string address, long resetAt)
    {
        if (guessing.Count >= 100_000)
        {
            // Bounded whatever the traffic: windows that have ended go first.
            var now = clock.GetUtcNow().ToUnixTimeSeconds();
            foreach (var (stale, _) in guessing.Where(g => g.Value <= now).ToList())
            {
                guessing.TryRemove(stale, out _);
            }
        }

        guessing[address] = resetAt;
    }

    private Task RefuseGuessingAsync(EdgeRequest edge, RateDecision decision)
    {
        RateLimiting.WriteHeaders(edge.Context.Response, decision);
        return RateLimiting.RefuseAsync(edge, decision, UnknownKeysBucket, metrics,
            $"Too many unknown API keys from this address ({decision.Limit} a minute)");
    }

    private async Task<(Caller?, ProblemHttpResult?)> AuthenticateAsync(HttpContext context, RoutePolicy route, Credential credential)
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
                    JwtVerdict.Revoked => (null, Problems.Unauthorized(ErrorCodes.TokenRevoked, outcome.Detail!)),
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

                var scope = route.RequiredScope(context.Request.Method);
                if (!key.Caller!.Scopes.Contains(scope))
                {
                    return (null, Problems.Forbidden(scope == ApiKeyScope.Generate
                        ? "This API key lacks the 'generate' scope needed for metered routes."
                        : $"This API key lacks the '{scope}' scope needed for {context.Request.Method} on this route."));
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

    /// <summary>Whether a verdict on the key is remembered here, so verifying it asks identity nothing.</summary>
    bool IsKnown(string key);
}
