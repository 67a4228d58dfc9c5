using System.Diagnostics.Metrics;

namespace Timepoint.Identity.ApiKeys;

/// <summary>The <c>Timepoint.Identity.ApiKeys</c> meter (exported by ServiceDefaults with every <c>Timepoint.*</c> meter).</summary>
public sealed class ApiKeyMetrics
{
    public const string MeterName = "Timepoint.Identity.ApiKeys";

    private readonly Counter<long> verifications;
    private readonly Counter<long> revocationsPublished;

    public ApiKeyMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        verifications = meter.CreateCounter<long>("api_keys.verifications", "{verification}",
            "Verification answers given to the gateway, per result (valid, unknown, revoked, expired).");
        revocationsPublished = meter.CreateCounter<long>("api_keys.revocations_published", "{message}",
            "Revocation messages published to the gateways, per outcome (sent, failed).");
    }

    public void Verified(string result) => verifications.Add(1, new KeyValuePair<string, object?>("result", result));

    public void Published(string outcome, int count) => revocationsPublished.Add(count, new KeyValuePair<string, object?>("outcome", outcome));
}
