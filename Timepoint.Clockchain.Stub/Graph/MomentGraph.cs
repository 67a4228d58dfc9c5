using System.Globalization;
using System.Text.Json;

namespace Timepoint.Clockchain.Stub.Graph;

/// <summary>
/// The moments and the edges between them (same year, same place, same figure), built once at start and read-only
/// afterwards, so requests share it without locks.
/// </summary>
public sealed class MomentGraph
{
    private static readonly JsonSerializerOptions FileJson = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    private readonly Dictionary<string, MomentData> byPath;
    private readonly Dictionary<string, List<MomentEdge>> edges;
    private readonly Dictionary<string, string> searchText;

    public MomentGraph(IReadOnlyList<MomentData> moments, DateTimeOffset lastUpdated)
    {
        Validate(moments);
        Moments = moments;
        LastUpdated = lastUpdated;
        byPath = moments.ToDictionary(m => m.Path, StringComparer.OrdinalIgnoreCase);
        searchText = moments.ToDictionary(m => m.Path, m =>
            string.Join('\n', [m.Name, m.OneLiner, .. m.Figures, .. m.Tags]).ToLowerInvariant(), StringComparer.OrdinalIgnoreCase);
        edges = moments.ToDictionary(m => m.Path, _ => new List<MomentEdge>(), StringComparer.OrdinalIgnoreCase);

        var counts = new Dictionary<string, int> { [EdgeTypes.SameYear] = 0, [EdgeTypes.SamePlace] = 0, [EdgeTypes.SameFigure] = 0 };
        for (var i = 0; i < moments.Count; i++)
        {
            for (var j = i + 1; j < moments.Count; j++)
            {
                foreach (var (type, via) in Shared(moments[i], moments[j]))
                {
                    edges[moments[i].Path].Add(new MomentEdge(type, moments[j].Path, moments[j].Name, via));
                    edges[moments[j].Path].Add(new MomentEdge(type, moments[i].Path, moments[i].Name, via));
                    counts[type]++;
                }
            }
        }

        EdgeTypeCounts = counts;
    }

    public IReadOnlyList<MomentData> Moments { get; }

    public DateTimeOffset LastUpdated { get; }

    /// <summary>Undirected edges by type; a pair sharing a year and a figure counts once under each.</summary>
    public IReadOnlyDictionary<string, int> EdgeTypeCounts { get; }

    public static MomentGraph LoadEmbedded()
    {
        using var stream = typeof(MomentGraph).Assembly.GetManifestResourceStream("Timepoint.Clockchain.Stub.moments.json")
            ?? throw new InvalidOperationException("The embedded moments data set is missing.");
        var file = JsonSerializer.Deserialize<DataFile>(stream, FileJson)
            ?? throw new InvalidOperationException("The moments data set is empty.");
        return new MomentGraph(file.Moments, file.LastUpdated);
    }

    public MomentData? Find(string path) => byPath.GetValueOrDefault(path.Trim('/'));

    public IReadOnlyList<MomentEdge> EdgesOf(MomentData moment) => edges[moment.Path];

    /// <summary>True when every whitespace-separated term of <paramref name="query"/> occurs in the name, one-liner, figures or tags.</summary>
    public bool Matches(MomentData moment, string query) =>
        query.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
            .All(term => searchText[moment.Path].Contains(term.ToLowerInvariant(), StringComparison.Ordinal));

    private static IEnumerable<(string Type, string Via)> Shared(MomentData a, MomentData b)
    {
        if (a.Year == b.Year)
        {
            yield return (EdgeTypes.SameYear, a.Year.ToString(CultureInfo.InvariantCulture));
        }

        if (string.Equals(a.Place, b.Place, StringComparison.OrdinalIgnoreCase))
        {
            yield return (EdgeTypes.SamePlace, a.Place);
        }

        var figures = a.Figures.Intersect(b.Figures, StringComparer.OrdinalIgnoreCase).ToList();
        if (figures.Count > 0)
        {
            yield return (EdgeTypes.SameFigure, string.Join(", ", figures));
        }
    }

    private static void Validate(IReadOnlyList<MomentData> moments)
    {
        var problems = new List<string>();
        foreach (var m in moments)
        {
            if (string.IsNullOrWhiteSpace(m.Name) || string.IsNullOrWhiteSpace(m.Slug) || string.IsNullOrWhiteSpace(m.Place))
            {
                problems.Add($"{m.Path}: name, slug and place are required");
            }

            if (m.Year == 0 || m.Month is < 1 or > 12 || m.Day is < 1 or > 31 || (m.Day is not null && m.Month is null))
            {
                problems.Add($"{m.Path}: impossible date");
            }

            if (m.Confidence is < 0 or > 1)
            {
                problems.Add($"{m.Path}: confidence must be within 0..1");
            }
        }

        problems.AddRange(moments.GroupBy(m => m.Path, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: path used {g.Count()} times"));
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("The moments data set is invalid: " + string.Join("; ", problems));
        }
    }

    private sealed record DataFile(DateTimeOffset LastUpdated, List<MomentData> Moments);
}
