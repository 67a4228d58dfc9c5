namespace Microsoft.Extensions.Hosting;

/// <summary>Names shared by the platform's meters and activity sources.</summary>
public static class TimepointTelemetry
{
    /// <summary>Every platform meter and activity source starts with this, so one wildcard exports them all.</summary>
    public const string MeterPrefix = "Timepoint.";
}
