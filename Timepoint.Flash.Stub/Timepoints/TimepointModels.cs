using System.ComponentModel;

namespace Timepoint.Flash.Stub.Timepoints;

/// <summary>A timepoint as clients see it and as flashdb stores it (docs/contract.md#5-backends); content fields are null while it is processing.</summary>
public sealed record TimepointDocument(
    Guid Id,
    string Query,
    string Slug,
    string Status,
    int? Year,
    int? Month,
    int? Day,
    string? Season,
    string? TimeOfDay,
    string? Era,
    string? Location,
    string? ImagePrompt,
    bool HasImage,
    string? ImageUrl,
    string? TextModelUsed,
    string? ImageModelUsed,
    DateTimeOffset CreatedAt,
    string Visibility,
    string PresetUsed,
    int? GenerationTimeMs,
    IReadOnlyList<Character>? Characters,
    Scene? Scene,
    IReadOnlyList<DialogLine>? Dialog)
{
    /// <summary>The request this timepoint answers (a processing one keeps <c>has_image</c> as the promise of an image).</summary>
    public GenerationInput InputOf() => new(Query, HasImage, PresetUsed, Visibility);
}

public sealed record Character(string Name, string Role, string Description, string Appearance);

public sealed record Scene(string Setting, string Atmosphere, string Weather, string Lighting, string Description);

public sealed record DialogLine(string Speaker, string Line, string Tone);

public static class TimepointStatus
{
    public const string Processing = "processing";
    public const string Completed = "completed";
}

/// <summary><c>POST /api/v1/timepoints/generate[/sync|/stream]</c> body.</summary>
public sealed record GenerateRequest(string? Query, bool? GenerateImage = null, string? Preset = null, string? Visibility = null)
{
    public const int MinQueryLength = 3;
    public const int MaxQueryLength = 500;

    public static readonly string[] Presets = ["balanced", "hd", "hyper", "gemini3"];
    public static readonly string[] Visibilities = ["public", "private"];

    /// <summary>The accepted request with defaults filled in, or the fields that are wrong.</summary>
    public (GenerationInput? Input, Dictionary<string, string[]> Errors) Validate()
    {
        var errors = new Dictionary<string, string[]>();
        var query = Query?.Trim() ?? "";
        if (query.Length is < MinQueryLength or > MaxQueryLength)
        {
            errors["query"] = [$"query must be {MinQueryLength} to {MaxQueryLength} characters."];
        }

        var preset = (Preset ?? "balanced").Trim().ToLowerInvariant();
        if (!Presets.Contains(preset))
        {
            errors["preset"] = [$"preset must be one of: {string.Join(", ", Presets)}."];
        }

        var visibility = (Visibility ?? "public").Trim().ToLowerInvariant();
        if (!Visibilities.Contains(visibility))
        {
            errors["visibility"] = [$"visibility must be one of: {string.Join(", ", Visibilities)}."];
        }

        return errors.Count > 0
            ? (null, errors)
            : (new GenerationInput(query, GenerateImage ?? false, preset, visibility), errors);
    }
}

public sealed record GenerationInput(string Query, bool GenerateImage, string Preset, string Visibility);

/// <summary><c>202</c> answer of the async generate route.</summary>
public sealed record GenerationAccepted(Guid Id, string Status, string Message);

/// <summary>One event of the generation stream: <c>data: {"event","step","data","progress","error"}</c>.</summary>
[Description("One event of POST /api/v1/timepoints/generate/stream, each sent as 'data: {json}': start (data: timepoint_id, query, "
    + "preset), one step_complete per pipeline step (step names it, data carries its content), then done (data: timepoint_id and the "
    + "stored timepoint). The charge stands on done; a stream cut before done is refunded.")]
public sealed record StreamEvent(
    [property: Description("start, step_complete or done.")] string Event,
    [property: Description("step_complete: the pipeline step (Judge, Timeline, Grounding, Scene, Characters, Dialog, ImagePrompt, ImageGen).")] string? Step,
    [property: Description("What the event carries (see the event).")] object? Data,
    [property: Description("0 to 100.")] int Progress,
    string? Error);

public sealed record TimepointPage(IReadOnlyList<TimepointDocument> Items, long Total, int Limit, int Offset);
