using System.Net;
using System.Text.Json;

namespace Timepoint.Client;

/// <summary>
/// A refusal of the platform: an <c>application/problem+json</c> answer (RFC 9457) whose <see cref="Code"/> says what
/// happened (<c>auth.missing</c>, <c>auth.insufficient_credits</c>, <c>rate_limited</c>, <c>validation_failed</c>, ...).
/// </summary>
public sealed class TimepointApiException : Exception
{
    internal TimepointApiException(HttpStatusCode status, string? code, string? title, string? detail, JsonElement? problem,
        TimeSpan? retryAfter, RateLimit? rateLimit, string? requestId)
        : base($"{(int)status} {code ?? "error"}: {detail ?? title ?? status.ToString()}")
    {
        Status = status;
        Code = code;
        Title = title;
        Detail = detail;
        Problem = problem;
        RetryAfter = retryAfter;
        RateLimit = rateLimit;
        RequestId = requestId;
        Errors = ReadErrors(problem);
    }

    public HttpStatusCode Status { get; }

    /// <summary>The platform's error code; null only when the answer was not a problem document (a proxy's page, say).</summary>
    public string? Code { get; }

    public string? Title { get; }

    public string? Detail { get; }

    /// <summary>Per field, what is wrong with it (on <c>validation_failed</c>).</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; }

    /// <summary>When to try again (<c>Retry-After</c>), on a 429 and every 503.</summary>
    public TimeSpan? RetryAfter { get; }

    public RateLimit? RateLimit { get; }

    public string? RequestId { get; }

    /// <summary>The whole problem document, for members this type does not name.</summary>
    public JsonElement? Problem { get; }

    /// <summary>On <c>auth.insufficient_credits</c> and <c>auth.key_credit_limit</c>: what the call costs.</summary>
    public long? CreditsRequired => Number("credits_required");

    /// <summary>On <c>auth.insufficient_credits</c>: the balance the call met.</summary>
    public long? CreditsAvailable => Number("credits_available");

    /// <summary>On <c>auth.key_credit_limit</c>: what the key's own cap leaves.</summary>
    public long? KeyCreditsRemaining => Number("key_credits_remaining");

    private long? Number(string name) =>
        Problem is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty(name, out var value) && value.TryGetInt64(out var n) ? n : null;

    private static Dictionary<string, string[]> ReadErrors(JsonElement? problem)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (problem is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty("errors", out var members) && members.ValueKind == JsonValueKind.Object)
        {
            foreach (var member in members.EnumerateObject())
            {
                errors[member.Name] = member.Value.ValueKind == JsonValueKind.Array
                    ? [.. member.Value.EnumerateArray().Select(m => m.ToString())]
                    : [member.Value.ToString()];
            }
        }

        return errors;
    }

    /// <summary>The exception an unsuccessful answer means.</summary>
    internal static TimepointApiException From(HttpStatusCode status, System.Net.Http.Headers.HttpResponseHeaders headers, string? content)
    {
        JsonElement? problem = null;
        try
        {
            if (!string.IsNullOrWhiteSpace(content))
            {
                using var document = JsonDocument.Parse(content);
                problem = document.RootElement.Clone();
            }
        }
        catch (JsonException)
        {
            // Not JSON: something between the client and the platform answered; the status still says enough.
        }

        string? Text(string name) =>
            problem is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString() : null;

        var retryAfter = headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => (TimeSpan?)null,
        };
        return new TimepointApiException(status, Text("code"), Text("title"), Text("detail"), problem, retryAfter,
            TimepointResponse.ReadRateLimit(headers), TimepointResponse.First(headers, "X-Request-ID"));
    }
}
