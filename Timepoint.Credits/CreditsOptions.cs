using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace Timepoint.Credits;

/// <summary>Section <c>Credits</c>: what operations cost, the signup bonus, and how long a reservation may stay open.</summary>
public sealed partial class CreditsOptions
{
    public const string Section = "Credits";

    /// <summary>Operation name to cost in credits (docs/contract.md#4-credits). Configuration adds to or overrides these defaults.</summary>
    public Dictionary<string, long> Costs { get; set; } = new(StringComparer.Ordinal)
    {
        ["generate_balanced"] = 5,
        ["generate_hd"] = 10,
        ["generate_hyper"] = 5,
        ["generate_gemini3"] = 5,
        ["chat"] = 1,
        ["temporal_jump"] = 2,
        ["conductor_pro_sim"] = 15,
        ["conductor_compare"] = 10,
        ["clockchain_index"] = 1,
    };

    [Range(0, 1_000_000)]
    public long SignupBonus { get; set; } = 50;

    /// <summary>The largest single admin grant; bigger amounts are refused as a likely mistake.</summary>
    [Range(1, 1_000_000_000)]
    public long MaxGrant { get; set; } = 1_000_000_000;

    /// <summary>
    /// A reservation still open after this long is refunded by the reconciler. Must exceed the gateway's longest metered call
    /// (a stream included): a call that settles after its reservation was refunded gets 409 and is not charged.
    /// </summary>
    [Range(1, 86_400)]
    public int ReservationTimeoutSeconds { get; set; } = 300;

    [Range(1, 3_600)]
    public int ReconcilerIntervalSeconds { get; set; } = 30;

    public TimeSpan ReservationTimeout => TimeSpan.FromSeconds(ReservationTimeoutSeconds);

    public TimeSpan ReconcilerInterval => TimeSpan.FromSeconds(ReconcilerIntervalSeconds);

    internal static bool HasValidCosts(CreditsOptions options) =>
        options.Costs.Count > 0 && options.Costs.All(c => OperationName().IsMatch(c.Key) && c.Value is > 0 and <= 1_000_000);

    [GeneratedRegex("^[a-z][a-z0-9_]{0,63}$")]
    internal static partial Regex OperationName();
}
