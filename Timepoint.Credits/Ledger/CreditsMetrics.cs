using System.Diagnostics.Metrics;

namespace Timepoint.Credits.Ledger;

/// <summary>The <c>Timepoint.Credits</c> meter (exported by ServiceDefaults with every <c>Timepoint.*</c> meter).</summary>
public sealed class CreditsMetrics
{
    public const string MeterName = "Timepoint.Credits";
    private const string Unit = "{credit}";

    private readonly Counter<long> charged;
    private readonly Counter<long> refunded;
    private readonly Counter<long> refused;
    private readonly Counter<long> granted;

    public CreditsMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        charged = meter.CreateCounter<long>("credits.charged", Unit, "Credits debited by reservations, per operation.");
        refunded = meter.CreateCounter<long>("credits.refunded", Unit, "Credits returned by refunds, per operation.");
        refused = meter.CreateCounter<long>("credits.refused", Unit, "Credits asked for and refused for lack of balance (402), per operation.");
        granted = meter.CreateCounter<long>("credits.granted", Unit, "Credits added by signup bonuses and admin grants, per type.");
    }

    public void Charged(string operation, long amount) => charged.Add(amount, new KeyValuePair<string, object?>("operation", operation));

    public void Refunded(string operation, long amount) => refunded.Add(amount, new KeyValuePair<string, object?>("operation", operation));

    public void Refused(string operation, long amount) => refused.Add(amount, new KeyValuePair<string, object?>("operation", operation));

    public void Granted(string type, long amount) => granted.Add(amount, new KeyValuePair<string, object?>("type", type));
}
