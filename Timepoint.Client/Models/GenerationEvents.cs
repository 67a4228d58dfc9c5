using System.Text.Json;

namespace Timepoint.Client;

/// <summary>
/// One event of a streaming generation (<c>POST /api/v1/timepoints/generate/stream</c>): a
/// <see cref="GenerationStarted"/>, one <see cref="GenerationStepCompleted"/> per pipeline step, then
/// <see cref="GenerationCompleted"/>. The charge stands exactly when the stream reached <c>done</c>.
/// </summary>
public abstract record GenerationEvent(string Event, int Progress);

/// <summary><c>start</c>: the id the timepoint will have.</summary>
public sealed record GenerationStarted(Guid TimepointId, string Query, string Preset) : GenerationEvent("start", 0);

/// <summary><c>step_complete</c>: a pipeline step (Judge, Timeline, Grounding, Scene, ...) and what it produced.</summary>
public sealed record GenerationStepCompleted(string Step, JsonElement Data, int Progress) : GenerationEvent("step_complete", Progress);

/// <summary><c>done</c>: the stored timepoint.</summary>
public sealed record GenerationCompleted(Guid TimepointId, Timepoint Timepoint) : GenerationEvent("done", 100);

/// <summary>An event naming an error: the generation failed and its credits are refunded.</summary>
public sealed record GenerationFailed(string Error, int Progress) : GenerationEvent("error", Progress);

/// <summary>An event this client version does not know, passed through.</summary>
public sealed record UnknownGenerationEvent(string Name, string? Step, JsonElement Data, int Progress) : GenerationEvent(Name, Progress);
