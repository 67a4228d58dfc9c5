using Microsoft.Extensions.Options;
using Timepoint.Credits.Ledger;

namespace Timepoint.Credits.Reconciliation;

/// <summary>
/// Refunds reservations that a gateway opened and never settled or refunded (it crashed, or lost the connection), once they
/// are older than <see cref="CreditsOptions.ReservationTimeout"/>. It uses the same conditional refund as the API, so several
/// replicas sweeping at once, or a late refund from the gateway, still give the credits back exactly once.
/// </summary>
public sealed partial class ReservationReconciler(CreditLedger ledger, IOptions<CreditsOptions> options, ILogger<ReservationReconciler> logger)
    : BackgroundService
{
    private const int BatchSize = 100;
    public const string Reason = "Refund: reservation expired without an outcome";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ReconcilerInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The database may be briefly away; the next tick tries again.
                LogSweepFailed(ex);
            }
        }
    }

    /// <summary>Refunds every stale reservation; returns how many this call refunded.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var refunded = 0;
        IReadOnlyList<Guid> stale;
        do
        {
            stale = await ledger.FindStaleReservationsAsync(options.Value.ReservationTimeout, BatchSize, cancellationToken);
            foreach (var id in stale)
            {
                if (await ledger.RefundAsync(id, Reason, cancellationToken) is RefundOutcome.Refunded { AlreadyDone: false })
                {
                    refunded++;
                    LogRefunded(id);
                }
            }
        }
        while (stale.Count == BatchSize);

        return refunded;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refunded reservation {ReservationId}: it stayed open past the reservation timeout.")]
    private partial void LogRefunded(Guid reservationId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reservation sweep failed.")]
    private partial void LogSweepFailed(Exception exception);
}
