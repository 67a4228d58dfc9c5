namespace Timepoint.Client;

/// <summary>
/// A generation request: <see cref="Query"/> of 3 to 500 characters; <see cref="Preset"/> one of balanced (5 credits),
/// hd (10), hyper (5), gemini3 (5); <see cref="Visibility"/> public or private.
/// </summary>
public sealed record GenerateRequest(string Query, bool? GenerateImage = null, string? Preset = null, string? Visibility = null);

/// <summary>A timepoint; the content fields are null while <see cref="Status"/> is <c>processing</c>.</summary>
public sealed record Timepoint(
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
    IReadOnlyList<DialogLine>? Dialog);

public sealed record Character(string Name, string Role, string Description, string Appearance);

public sealed record Scene(string Setting, string Atmosphere, string Weather, string Lighting, string Description);

public sealed record DialogLine(string Speaker, string Line, string Tone);

/// <summary>The 202 of an asynchronous generation: poll <c>GET /api/v1/timepoints/{id}</c> until it is completed.</summary>
public sealed record GenerationAccepted(Guid Id, string Status, string Message);

/// <summary>A page of the caller's timepoints.</summary>
public sealed record TimepointPage(IReadOnlyList<Timepoint> Items, long Total, int Limit, int Offset);

public static class TimepointStatuses
{
    public const string Processing = "processing";
    public const string Completed = "completed";
}
