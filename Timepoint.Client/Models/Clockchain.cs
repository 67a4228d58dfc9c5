namespace Timepoint.Client;

/// <summary>The public graph's figures (<c>GET /api/v1/clockchain/stats</c>).</summary>
public sealed record ClockchainStats(
    int TotalNodes,
    int TotalEdges,
    IReadOnlyDictionary<string, int> LayerCounts,
    IReadOnlyDictionary<string, int> EdgeTypeCounts,
    IReadOnlyDictionary<string, int> SourceTypeCounts,
    YearRange DateRange,
    double AvgConfidence,
    DateTimeOffset LastUpdated,
    int NodesWithImages);

/// <summary>Years are negative before the common era.</summary>
public sealed record YearRange(int MinYear, int MaxYear);

/// <summary>A historical moment; <see cref="Edges"/> only when one moment is read by its path.</summary>
public sealed record Moment(
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
    IReadOnlyList<MomentEdge>? Edges = null);

/// <summary>A link to another moment: <c>same_year</c>, <c>same_place</c> or <c>same_figure</c>, and what they share.</summary>
public sealed record MomentEdge(string Type, string Path, string Name, string Via);

public sealed record MomentPage(IReadOnlyList<Moment> Items, int Total, int Limit, int Offset);

/// <summary>
/// A moments search: <see cref="Limit"/> 1 to 100 (default 20); <see cref="Sort"/> date, name or confidence, a leading
/// <c>-</c> reversing.
/// </summary>
public sealed record MomentQuery(
    int? Limit = null, int? Offset = null, string? Q = null, int? YearFrom = null, int? YearTo = null, string? Entity = null,
    string? Sort = null);
