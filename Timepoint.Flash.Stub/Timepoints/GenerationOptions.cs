using System.ComponentModel.DataAnnotations;

namespace Timepoint.Flash.Stub.Timepoints;

/// <summary>How long the stub pretends to work (section <c>Flash:Generation</c>).</summary>
public sealed class GenerationOptions
{
    public const string Section = "Flash:Generation";

    /// <summary>Pause between two stream steps, so clients see progress arrive.</summary>
    [Range(0, 10_000)]
    public int StepDelayMilliseconds { get; set; } = 100;

    /// <summary>How long an async generation stays <c>processing</c>.</summary>
    [Range(0, 60_000)]
    public int AsyncDelayMilliseconds { get; set; } = 1000;
}
