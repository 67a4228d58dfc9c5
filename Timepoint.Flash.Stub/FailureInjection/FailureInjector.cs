using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Timepoint.Flash.Stub.FailureInjection;

/// <summary>Decides which failure, if any, a generate request suffers, and plays the ones that happen before answering.</summary>
public sealed class FailureInjector(IOptionsMonitor<FailureInjectionOptions> options, IOptions<SecurityOptions> security)
{
    /// <summary>
    /// The configured mode, unless the request switch is allowed and the caller is trusted (a gateway-signed identity or
    /// this service's X-Service-Key): then <c>X-Flash-Fail</c> picks it. Anyone else's header is ignored.
    /// </summary>
    public string ModeFor(HttpContext context)
    {
        var current = options.CurrentValue;
        var requested = context.Request.Headers[FailureModes.RequestHeader].FirstOrDefault()?.Trim().ToLowerInvariant();
        if (current.AllowRequestSwitch && IsTrusted(context) &&
            requested is FailureModes.None or FailureModes.Error or FailureModes.Delay or FailureModes.BreakStream)
        {
            return requested;
        }

        return current.Mode;
    }

    /// <summary>
    /// Plays <c>error</c> (returns the 500 to send) and <c>delay</c> (waits, then lets the request go on);
    /// <c>break_stream</c> is the stream's to play, and other routes answer normally under it.
    /// </summary>
    public async Task<ProblemHttpResult?> BeforeGenerateAsync(HttpContext context, string mode)
    {
        switch (mode)
        {
            case FailureModes.Error:
                return Problems.Create(StatusCodes.Status500InternalServerError, ErrorCodes.Internal, "Generation failed",
                    "The generation pipeline failed (injected failure).");
            case FailureModes.Delay:
                await Task.Delay(TimeSpan.FromSeconds(options.CurrentValue.DelaySeconds), context.RequestAborted);
                return null;
            default:
                return null;
        }
    }

    private bool IsTrusted(HttpContext context)
    {
        if (context.User.GetUserId() is not null)
        {
            return true; // UseGatewayTrust already refused any identity without a valid signature
        }

        var key = context.Request.Headers[ServiceKeyExtensions.ServiceKeyHeader];
        return key.Count == 1 && !string.IsNullOrEmpty(key[0]) && security.Value.ServiceKey.Length > 0 &&
            ServiceKeyExtensions.KeysMatch(key[0]!, security.Value.ServiceKey);
    }
}
