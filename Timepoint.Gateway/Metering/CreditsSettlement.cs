using Timepoint.ServiceDefaults;

namespace Timepoint.Gateway.Metering;

public sealed record SettleManyRequest(IReadOnlyList<Guid> ReservationIds);

public sealed record SettleManyResponse(IReadOnlyList<SettledReservation> Reservations);

public sealed record SettledReservation(Guid ReservationId, string Status);

/// <summary>
/// Settles the reservations of successful metered calls, many per call to credits: the settles that arrive while one call
/// is in flight go together in the next one (one HTTP call and one statement at credits for the lot, instead of one each).
/// Every caller still waits for its own reservation's answer, so a call's charge has stood by the time it ends.
/// </summary>
public sealed class CreditsSettlement
{
    public const int MaxBatch = 256;

    private readonly ICreditsMeteringApi credits;
    private readonly Batches<int, Guid, string> batches;

    public CreditsSettlement(ICreditsMeteringApi credits)
    {
        this.credits = credits;
        batches = new((_, ids) => SettleAsync(ids), MaxBatch);
    }

    /// <summary>What credits says of the reservation now: <c>settled</c>, <c>refunded</c> or <c>not_found</c>.</summary>
    public Task<string> SettleAsync(Guid reservationId) => batches.RunAsync(0, reservationId);

    private async Task<string[]> SettleAsync(IReadOnlyList<Guid> reservationIds)
    {
        // Settling is idempotent at credits, so the resilience handler may send the batch again.
        var answer = await credits.SettleManyAsync(new SettleManyRequest(reservationIds), CancellationToken.None);
        if (!answer.IsSuccessStatusCode || answer.Content?.Reservations is not { } settled || settled.Count != reservationIds.Count)
        {
            throw new HttpRequestException($"Credits answered {answer.StatusCode} to a settle of {reservationIds.Count} reservations.");
        }

        return [.. settled.Select(r => r.Status)];
    }
}
