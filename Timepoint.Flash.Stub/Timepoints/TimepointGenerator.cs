using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Timepoint.Flash.Stub.Timepoints;

/// <summary>
/// The stub's "pipeline": a plausible scene derived only from the query, so the same query always gives the same
/// scene (whoever asks, whatever the preset) and tests can rely on it. No model is called.
/// </summary>
public sealed partial class TimepointGenerator(TimeProvider clock)
{
    /// <summary>The real pipeline's steps, in order; the stream reports each.</summary>
    public static readonly string[] Steps =
        ["Judge", "Timeline", "Grounding", "Scene", "Characters", "Moment", "Camera", "Dialog", "Critique", "ImagePrompt", "Optimizer", "ImageGen"];

    private static readonly string[] MonthNames =
        ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
    private static readonly int[] DaysInMonth = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    private static readonly string[] TimesOfDay = ["dawn", "morning", "midday", "afternoon", "dusk", "evening", "night"];
    private static readonly string[] Places =
    [
        "Rome, Italy", "Athens, Greece", "Alexandria, Egypt", "Constantinople", "Paris, France", "London, England",
        "Philadelphia, Pennsylvania", "Beijing, China", "Kyoto, Japan", "Baghdad, Iraq", "Cusco, Peru", "Tenochtitlan",
        "Timbuktu, Mali", "Samarkand, Uzbekistan", "Venice, Italy", "Florence, Italy", "Vienna, Austria", "Berlin, Germany",
        "Moscow, Russia", "Delhi, India", "Cairo, Egypt", "Jerusalem", "Lisbon, Portugal", "Madrid, Spain",
        "New York City", "Washington, D.C.", "Cape Canaveral, Florida", "Houston, Texas", "Sydney, Australia", "Istanbul, Turkey",
    ];
    private static readonly string[] GivenNames =
    [
        "Marcus", "Helena", "Amara", "Tomas", "Li Wei", "Yusuf", "Ingrid", "Rafael", "Nadia", "Kenji", "Eleanor", "Dmitri",
        "Aisha", "Henri", "Sofia", "Kwame", "Beatrix", "Arjun", "Margarethe", "Diego", "Catalina", "Samuel", "Mei", "Oluwaseun",
    ];
    private static readonly string[] FamilyNames =
    [
        "Varro", "Castellan", "Okafor", "Lindqvist", "Zhang", "al-Rashid", "Moreau", "Kowalski", "Tanaka", "Hawthorne",
        "Petrov", "Esposito", "Mensah", "Nakamura", "Whitfield", "Duarte", "Abara", "Fischer",
    ];
    private static readonly string[] Roles =
    [
        "eyewitness", "scribe", "soldier", "merchant", "diplomat", "engineer", "physician", "messenger", "artist",
        "reporter", "official", "scholar", "guard", "interpreter",
    ];
    private static readonly string[] Appearances =
    [
        "weathered face, dust on a plain wool coat", "neatly dressed, ink-stained fingers", "tall, with a scar across one brow",
        "young and wide-eyed, clutching a satchel", "grey-bearded, leaning on a cane", "sharp-featured, in a formal uniform",
        "sunburned, sleeves rolled to the elbow", "composed, wrapped in a dark cloak",
    ];
    private static readonly string[] Atmospheres =
    [
        "tense and expectant", "solemn", "jubilant", "chaotic", "hushed and reverent", "electric with rumor", "weary but hopeful",
    ];
    private static readonly string[] Weathers = ["clear skies", "light rain", "heavy overcast", "dry heat", "a cold wind", "drifting fog", "fresh snow"];
    private static readonly string[] Lightings =
    [
        "low golden sunlight", "flickering torchlight", "flat grey daylight", "harsh noon sun", "lamplight and long shadows", "pale moonlight",
    ];
    private static readonly string[] Tones = ["urgent", "hushed", "defiant", "awed", "wry", "grave", "excited"];
    private static readonly string[] LineTemplates =
    [
        "Remember this day. They will ask us about {0}.", "I did not think I would live to see {0}.",
        "Write it down exactly as it happens: {0}.", "Hold your ground. Whatever {0} brings, we stay.",
        "Is it true? Is this really {0}?", "Every city will hear of {0} by nightfall.",
        "Quiet now. Listen.", "We should not be standing so close.",
    ];

    public GeneratedContent Generate(string query, bool generateImage, string preset, Guid id)
    {
        var started = Stopwatch.GetTimestamp();
        var normalized = Normalize(query);
        var random = SeededRandom.From(normalized);

        // What the query names wins: its year, month, day and place. Only what it leaves open is picked from its seed.
        var year = YearIn(normalized) ?? random.Pick([-480, -44, 79, 476, 800, 1066, 1215, 1453, 1492, 1776, 1815, 1865, 1903, 1929, 1945, 1969, 1989]);
        var (namedMonth, namedDay) = MonthAndDayIn(normalized);
        var month = namedMonth ?? random.Next(1, 13);
        var day = namedDay ?? random.Next(1, DaysInMonth[month - 1] + 1);
        var location = PlaceIn(normalized) ?? UnnamedPlace;
        var timeOfDay = random.Pick(TimesOfDay);
        // Text that echoes the query uses it as typed (case kept); everything else follows the normalized form.
        var subject = WhitespaceRegex().Replace(query.Trim(), " ");

        var characters = Enumerable.Range(0, random.Next(2, 5)).Select(_ =>
        {
            var role = random.Pick(Roles);
            return new Character($"{random.Pick(GivenNames)} {random.Pick(FamilyNames)}", role,
                $"A {role} present at {subject}.", random.Pick(Appearances));
        }).ToList();

        var atmosphere = random.Pick(Atmospheres);
        var weather = random.Pick(Weathers);
        var lighting = random.Pick(Lightings);
        var scene = new Scene(
            Setting: $"{location}, {timeOfDay}",
            Atmosphere: atmosphere,
            Weather: weather,
            Lighting: lighting,
            Description: $"{location}, {SeasonOf(month)} {YearText(year)}: the {timeOfDay} of {subject}. The mood is {atmosphere}, under {weather}.");

        var dialog = Enumerable.Range(0, random.Next(3, 6)).Select(i => new DialogLine(
            characters[i % characters.Count].Name,
            string.Format(CultureInfo.InvariantCulture, random.Pick(LineTemplates), subject),
            random.Pick(Tones))).ToList();

        var imagePrompt = $"Photorealistic historical scene, {subject}, {location}, {SeasonOf(month)} {timeOfDay}, {YearText(year)}, " +
            $"{lighting}, {weather}, {characters.Count} figures in period dress, cinematic 35mm composition";

        return new GeneratedContent(
            year, month, day, SeasonOf(month), timeOfDay, EraOf(year), location, imagePrompt,
            generateImage, generateImage ? ImageUrl(id) : null,
            TextModelFor(preset), generateImage ? "stub-imagen-3" : null,
            (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            characters, scene, dialog);
    }

    /// <summary>A stored, completed timepoint built from the request and its content.</summary>
    public TimepointDocument Complete(Guid id, GenerationInput input, DateTimeOffset createdAt)
    {
        var c = Generate(input.Query, input.GenerateImage, input.Preset, id);
        return new TimepointDocument(id, input.Query, Slugify(input.Query), TimepointStatus.Completed, c.Year, c.Month, c.Day, c.Season,
            c.TimeOfDay, c.Era, c.Location, c.ImagePrompt, c.HasImage, c.ImageUrl, c.TextModelUsed, c.ImageModelUsed, createdAt,
            input.Visibility, input.Preset, c.GenerationTimeMs, c.Characters, c.Scene, c.Dialog);
    }

    /// <summary>A timepoint accepted for background generation: known request, no content yet.</summary>
    public TimepointDocument Pending(Guid id, GenerationInput input) =>
        new(id, input.Query, Slugify(input.Query), TimepointStatus.Processing, null, null, null, null, null, null, null, null,
            input.GenerateImage, null, null, null, clock.GetUtcNow(), input.Visibility, input.Preset, null, null, null, null);

    public static string ImageUrl(Guid id) => $"/api/v1/timepoints/{id}/image.png";

    public static string Normalize(string query) => WhitespaceRegex().Replace(query.Trim().ToLowerInvariant(), " ");

    public static string Slugify(string query)
    {
        var slug = NonSlugRegex().Replace(query.ToLowerInvariant(), "-").Trim('-');
        return (slug.Length > 80 ? slug[..80].TrimEnd('-') : slug) is { Length: > 0 } s ? s : "timepoint";
    }

    private static int? YearIn(string normalized)
    {
        var bce = BceYearRegex().Match(normalized);
        if (bce.Success)
        {
            return -int.Parse(bce.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        var plain = YearRegex().Match(normalized);
        return plain.Success ? int.Parse(plain.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Where the scene is when the query names no place: one fixed answer, not a made-up city.</summary>
    public const string UnnamedPlace = "Unspecified location";

    /// <summary>The month the query names, and the day beside it ("July 20", "20 July", "the 14th of October"), if valid.</summary>
    private static (int? Month, int? Day) MonthAndDayIn(string normalized)
    {
        var index = Array.FindIndex(MonthNames, m => Regex.IsMatch(normalized, $@"\b{m}\b"));
        if (index < 0)
        {
            return (null, null);
        }

        // "July 20" or "20 July" / "the 14th of October"; a number beside the month that is no day of it (a year) is skipped.
        var name = MonthNames[index];
        var maxDay = index == 1 ? 29 : DaysInMonth[index];
        var candidates = Regex.Matches(normalized, $@"\b{name}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b")
            .Concat(Regex.Matches(normalized, $@"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{name}\b"));
        foreach (var match in candidates)
        {
            if (int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) is var day and >= 1 && day <= maxDay)
            {
                return (index + 1, day);
            }
        }

        return (index + 1, null);
    }

    /// <summary>
    /// A place the query names: one of the stub's known places, else up to three words after "in", "at", "near" or "of"
    /// ("Battle of Hastings, October 14 1066" -> Hastings), up to a comma, a number, a month or a small word. Read from the
    /// normalized query, so its letter case changes nothing.
    /// </summary>
    private static string? PlaceIn(string normalized)
    {
        if (Places.FirstOrDefault(p => Regex.IsMatch(normalized, $@"\b{Regex.Escape(p.Split(',')[0].ToLowerInvariant())}\b")) is { } known)
        {
            return known;
        }

        foreach (Match match in NamedPlaceRegex().Matches(normalized))
        {
            var words = match.Groups[1].Value.Split(' ').TakeWhile(w => !NotPlaceWords.Contains(w) && !MonthNames.Contains(w)).ToArray();
            if (words.Length > 0)
            {
                return CultureInfo.InvariantCulture.TextInfo.ToTitleCase(string.Join(' ', words));
            }
        }

        return null;
    }

    private static readonly HashSet<string> NotPlaceWords =
        ["in", "at", "near", "of", "on", "the", "a", "an", "and", "or", "during", "after", "before", "by", "with", "from", "to", "for"];

    private static string SeasonOf(int month) => month switch
    {
        12 or 1 or 2 => "winter",
        >= 3 and <= 5 => "spring",
        >= 6 and <= 8 => "summer",
        _ => "autumn",
    };

    private static string EraOf(int year) => year switch
    {
        < -3000 => "Prehistory",
        < 500 => "Classical Antiquity",
        < 1500 => "Middle Ages",
        < 1800 => "Early Modern Period",
        < 1914 => "Industrial Age",
        < 1946 => "World Wars",
        < 1992 => "Cold War",
        _ => "Contemporary",
    };

    private static string YearText(int year) =>
        year < 0 ? string.Create(CultureInfo.InvariantCulture, $"{-year} BCE") : year.ToString(CultureInfo.InvariantCulture);

    private static string TextModelFor(string preset) => preset switch
    {
        "hd" => "stub-gemini-2.5-pro",
        "hyper" => "stub-gemini-2.5-flash-lite",
        "gemini3" => "stub-gemini-3-pro",
        _ => "stub-gemini-2.5-flash",
    };

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhitespaceRegex();

    [GeneratedRegex(@"\b(?:in|at|near|of)\s+(?:the\s+)?(\p{L}[\p{L}'’-]*(?:\s\p{L}[\p{L}'’-]*){0,2})")]
    private static partial Regex NamedPlaceRegex();

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NonSlugRegex();

    [GeneratedRegex(@"\b(\d{1,4})\s*(?:bce|bc)\b")]
    private static partial Regex BceYearRegex();

    [GeneratedRegex(@"\b(1\d{3}|20\d{2}|[1-9]\d{2})\b")]
    private static partial Regex YearRegex();
}

public sealed record GeneratedContent(
    int Year, int Month, int Day, string Season, string TimeOfDay, string Era, string Location, string ImagePrompt,
    bool HasImage, string? ImageUrl, string TextModelUsed, string? ImageModelUsed, int GenerationTimeMs,
    IReadOnlyList<Character> Characters, Scene Scene, IReadOnlyList<DialogLine> Dialog);
