using System.ComponentModel.DataAnnotations;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Section <c>Telemetry</c>: what the service records of its requests. Metrics count every request whatever is sampled;
/// traces are sampled where they start (the edge) and every service behind it follows that decision.
/// </summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>The share of traces recorded outside Development when <see cref="TraceSampleRatio"/> is not set.</summary>
    public const double ProductionTraceSampleRatio = 0.05;

    /// <summary>
    /// The share of traces that start here and are recorded (0 to 1); a request that arrives with a trace context follows
    /// its caller's decision. Unset: every trace in Development, <see cref="ProductionTraceSampleRatio"/> elsewhere.
    /// </summary>
    [Range(0.0, 1.0, ErrorMessage = "Telemetry:TraceSampleRatio must be between 0 and 1.")]
    public double? TraceSampleRatio { get; set; }

    /// <summary>
    /// Whether metrics are collected and exported (default true). Off only to measure what they cost (bench/run's
    /// attribution mode): dashboards and alerts read them.
    /// </summary>
    public bool Metrics { get; set; } = true;

    public double TraceSampleRatioIn(IHostEnvironment environment) =>
        TraceSampleRatio ?? (environment.IsDevelopment() ? 1.0 : ProductionTraceSampleRatio);

    /// <summary>Parent-based: a trace begun elsewhere keeps its caller's decision; one begun here is kept at the ratio.</summary>
    public Sampler TraceSampler(IHostEnvironment environment) =>
        new ParentBasedSampler(new TraceIdRatioBasedSampler(TraceSampleRatioIn(environment)));
}
