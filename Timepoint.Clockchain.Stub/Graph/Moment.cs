using System.Globalization;
using System.Text.Json.Serialization;

namespace Timepoint.Clockchain.Stub.Graph;

/// <summary>
/// One historical moment as the data file holds it. Years are astronomical-free: negative is BCE, and there is no year 0.
/// <c>layer</c> is the date's precision (0 day, 1 month, 2 year only).
/// </summary>
public sealed record MomentData(
    string Name,
    string Slug,
    int Year,
    int? Month,
    int? Day,
    string Place,
    IReadOnlyList<string> Figures,
    IReadOnlyList<string> Tags,
    string OneLiner,
    double Confidence,
    string SourceType,
    int Layer,
    bool HasImage)
{
    /// <summary>The canonical slashy path: <c>{year}[/{mm}[/{dd}]]/{slug}</c>, e.g. <c>1969/07/20/apollo-11-moon-landing</c>.</summary>
    public string Path => string.Join('/', new[]
    {
        Year.ToString(CultureInfo.InvariantCulture),
        Month?.ToString("00", CultureInfo.InvariantCulture),
        Day?.ToString("00", CultureInfo.InvariantCulture),
        Slug,
    }.Where(part => part is not null));

    public string DisplayDate
    {
        get
        {
            var year = Year < 0 ? $"{-Year} BCE" : Year.ToString(CultureInfo.InvariantCulture);
            var month = Month is { } m ? CultureInfo.InvariantCulture.DateTimeFormat.GetMonthName(m) + " " : "";
            var day = Day is { } d ? d.ToString(CultureInfo.InvariantCulture) + " " : "";
            return day + month + year;
        }
    }
}

/// <summary>A moment as clients see it; <c>edges</c> only on the single-moment answer.</summary>
public sealed record MomentItem(
    string Path,
    string Name,
    string Slug,
    int Year,
    int? Month,
    int? Day,
    string DisplayDate,
    string Place,
    IReadOnlyList<string> Figures,
    IReadOnlyList<string> Tags,
    string OneLiner,
    double Confidence,
    string SourceType,
    int Layer,
    bool HasImage,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<MomentEdge>? Edges = null)
{
    public static MomentItem From(MomentData m, IReadOnlyList<MomentEdge>? edges = null) =>
        new(m.Path, m.Name, m.Slug, m.Year, m.Month, m.Day, m.DisplayDate, m.Place, m.Figures, m.Tags, m.OneLiner,
            m.Confidence, m.SourceType, m.Layer, m.HasImage, edges);
}

/// <summary>A link to another moment: <c>same_year</c>, <c>same_place</c> or <c>same_figure</c>, and what they share.</summary>
public sealed record MomentEdge(string Type, string Path, string Name, string Via);

public static class EdgeTypes
{
    public const string SameYear = "same_year";
    public const string SamePlace = "same_place";
    public const string SameFigure = "same_figure";
}
