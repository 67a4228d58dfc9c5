namespace Timepoint.ServiceDefaults;

// The bodies of credits' internal metering API, written once: credits answers with them and the edge sends and reads them
// (snake_case on the wire). Credits reads requests field by field (JsonBody) so that a bad value is a 422 naming it.

/// <summary>What an API key may spend: <paramref name="Amount"/> credits per UTC day, per UTC calendar month, or in total.</summary>
public sealed record KeyCreditLimit(long Amount, string Period)
{
    public const string Day = "day";
    public const string Month = "month";
    public const string Total = "total";

    public static readonly string[] Periods = [Day, Month, Total];

    /// <summary>The largest amount a cap may name (a cap above any balance is no cap, and likely a typing slip).</summary>
    public const long MaxAmount = 1_000_000_000;
}

/// <param name="ApiKeyId">The key the call was made with (null for a signed-in user): recorded on the reservation and its ledger rows.</param>
/// <param name="KeyCreditLimit">The key's cap, checked by credits in the reservation's own transaction.</param>
public sealed record ReserveRequest(Guid UserId, string Operation, string IdempotencyKey, string RequestFingerprint, Guid? ApiKeyId = null,
    KeyCreditLimit? KeyCreditLimit = null);

public sealed record ReservationResponse(Guid ReservationId, string Operation, long Charged, long BalanceAfter, string Status, bool Replayed);

public sealed record SettleResponse(Guid ReservationId, string Status);

public sealed record SettleManyRequest(IReadOnlyList<Guid> ReservationIds);

/// <summary>One answer per id asked, in the same order: <c>settled</c>, <c>refunded</c> (its charge cannot stand) or <c>not_found</c>.</summary>
public sealed record SettleManyResponse(IReadOnlyList<SettleResponse> Reservations);

public sealed record RefundRequest(string Reason);

public sealed record RefundResponse(Guid ReservationId, string Status, long BalanceAfter);

/// <summary>Requests the edge counted for a user (and key) on a UTC day, sent to credits in batches.</summary>
/// <param name="ApiKeyId">Null for requests made with the user's access token.</param>
public sealed record UsageCount(Guid UserId, Guid? ApiKeyId, DateOnly Date, long Requests, long Refused);

public sealed record UsageBatch(IReadOnlyList<UsageCount> Counts);

/// <summary>The days of a usage query (UTC dates, both included), at most <see cref="MaxDays"/>.</summary>
public sealed record UsageRange(DateOnly From, DateOnly To)
{
    public const int MaxDays = 92;
    public const int DefaultDays = 30;

    /// <summary>
    /// <c>from</c> and <c>to</c> as <c>YYYY-MM-DD</c>; <c>to</c> defaults to today (UTC) and <c>from</c> to 30 days ending
    /// with <c>to</c>. A bad date, <c>from</c> after <c>to</c>, or more than 92 days is an error naming the field.
    /// </summary>
    public static bool TryParse(string? from, string? to, DateOnly today, out UsageRange range, out string field, out string error)
    {
        range = new UsageRange(today, today);
        (field, error) = ("", "");
        if (!TryDate(to, today, out var last))
        {
            (field, error) = ("to", "to must be a date, YYYY-MM-DD.");
            return false;
        }

        if (!TryDate(from, last.AddDays(1 - DefaultDays), out var first))
        {
            (field, error) = ("from", "from must be a date, YYYY-MM-DD.");
            return false;
        }

        if (first > last)
        {
            (field, error) = ("from", "from must not be after to.");
            return false;
        }

        if (last.DayNumber - first.DayNumber + 1 > MaxDays)
        {
            (field, error) = ("to", $"A usage query covers at most {MaxDays} days.");
            return false;
        }

        range = new UsageRange(first, last);
        return true;
    }

    private static bool TryDate(string? text, DateOnly fallback, out DateOnly date)
    {
        date = fallback;
        return text is null || DateOnly.TryParseExact(text, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.None, out date);
    }
}

/// <summary>How <c>GET /api/v1/credits/usage</c> groups the charged calls.</summary>
public static class UsageGroups
{
    public const string Day = "day";
    public const string Operation = "operation";
    public const string ApiKey = "api_key";

    public static readonly string[] All = [Day, Operation, ApiKey];
}
