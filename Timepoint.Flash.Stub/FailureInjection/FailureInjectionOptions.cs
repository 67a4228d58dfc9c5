using System.ComponentModel.DataAnnotations;

namespace Timepoint.Flash.Stub.FailureInjection;

/// <summary>
/// Makes generation fail on demand, so the gateway's refunds and timeouts can be tested (section <c>Flash:FailureInjection</c>).
/// </summary>
public sealed class FailureInjectionOptions
{
    public const string Section = "Flash:FailureInjection";

    /// <summary>Applied to every generate request: none, error (500), delay (wait <see cref="DelaySeconds"/>), break_stream.</summary>
    [AllowedValues(FailureModes.None, FailureModes.Error, FailureModes.Delay, FailureModes.BreakStream,
        ErrorMessage = "Flash:FailureInjection:Mode must be one of: none, error, delay, break_stream.")]
    public string Mode { get; set; } = FailureModes.None;

    [Range(0, 3600, ErrorMessage = "Flash:FailureInjection:DelaySeconds must be between 0 and 3600.")]
    public int DelaySeconds { get; set; } = 60;

    /// <summary>Whether a trusted caller may pick a failure per request with the <c>X-Flash-Fail</c> header.</summary>
    public bool AllowRequestSwitch { get; set; }
}

public static class FailureModes
{
    public const string None = "none";
    public const string Error = "error";
    public const string Delay = "delay";
    public const string BreakStream = "break_stream";

    public const string RequestHeader = "X-Flash-Fail";
}
