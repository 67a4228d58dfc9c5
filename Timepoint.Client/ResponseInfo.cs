using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace Timepoint.Client;

/// <summary>The caller's rate-limit window on this route: <c>X-RateLimit-Limit</c>, <c>-Remaining</c>, <c>-Reset</c>.</summary>
public sealed record RateLimit(long Limit, long Remaining, DateTimeOffset ResetsAt);

/// <summary>
/// What a metered call cost: <c>X-Credits-Charged</c> (0 on a refund or an idempotent replay), <c>X-Balance-After</c>,
/// and whether the answer is the replay of an earlier call with the same <c>Idempotency-Key</c>.
/// </summary>
public sealed record CreditCharge(long Charged, long BalanceAfter, bool Replayed);

/// <summary>An answer of the platform without a body (a 204), with what its headers say.</summary>
public class TimepointResponse
{
    internal TimepointResponse(HttpStatusCode status, HttpResponseHeaders headers)
    {
        Status = status;
        RateLimit = ReadRateLimit(headers);
        Credits = ReadCharge(headers);
        RequestId = First(headers, "X-Request-ID");
    }

    public HttpStatusCode Status { get; }

    /// <summary>Null on routes that are not rate-limited.</summary>
    public RateLimit? RateLimit { get; }

    /// <summary>Null unless the call was metered.</summary>
    public CreditCharge? Credits { get; }

    /// <summary>The edge's id of this request, to quote when reporting a problem.</summary>
    public string? RequestId { get; }

    internal static RateLimit? ReadRateLimit(HttpResponseHeaders headers) =>
        Number(headers, "X-RateLimit-Limit") is { } limit && Number(headers, "X-RateLimit-Remaining") is { } remaining
            && Number(headers, "X-RateLimit-Reset") is { } reset
            ? new RateLimit(limit, remaining, DateTimeOffset.FromUnixTimeSeconds(reset))
            : null;

    private static CreditCharge? ReadCharge(HttpResponseHeaders headers) =>
        Number(headers, "X-Credits-Charged") is { } charged && Number(headers, "X-Balance-After") is { } after
            ? new CreditCharge(charged, after, string.Equals(First(headers, "Idempotent-Replayed"), "true", StringComparison.OrdinalIgnoreCase))
            : null;

    internal static string? First(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static long? Number(HttpResponseHeaders headers, string name) =>
        long.TryParse(First(headers, name), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;
}

/// <summary>
/// An answer of the platform: its <see cref="Value"/> and what its headers say. Converts to <typeparamref name="T"/>,
/// so <c>CreditBalance balance = await client.Credits.GetBalanceAsync();</c> works as well.
/// </summary>
public sealed class TimepointResponse<T> : TimepointResponse
{
    internal TimepointResponse(HttpStatusCode status, HttpResponseHeaders headers, T value) : base(status, headers) => Value = value;

    public T Value { get; }

    public static implicit operator T(TimepointResponse<T> response) => response.Value;
}
