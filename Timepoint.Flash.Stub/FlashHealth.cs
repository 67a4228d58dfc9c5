using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Timepoint.Flash.Stub;

/// <summary>Flash's own health shape: <c>{"status","database","providers":{...}}</c>.</summary>
public static class FlashHealth
{
    public static object Body(HealthReport report) => new
    {
        status = HealthEndpoints.StatusText(report.Status),
        database = report.Entries.Where(e => e.Key != "self").All(e => e.Value.Status == HealthStatus.Healthy),
        // The stub calls no model provider; it reports them as the real service does when they answer.
        providers = new { google = true, openrouter = true, stability = true },
    };
}
