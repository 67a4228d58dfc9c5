using Microsoft.AspNetCore.Http.HttpResults;
using Timepoint.Clockchain.Stub.Graph;

namespace Timepoint.Clockchain.Stub.Stats;

/// <summary><c>GET /api/v1/stats</c>: figures computed from the loaded graph (once: it never changes while running).</summary>
public static class StatsApi
{
    public static WebApplication MapStatsApi(this WebApplication app)
    {
        app.MapGroup("/api/v1/stats").MapGet("/", GetStats).WithName("GetStats").WithSummary("Figures of the moments graph.");
        return app;
    }

    private static Ok<GraphStats> GetStats(MomentGraph graph) => TypedResults.Ok(Compute(graph));

    public static GraphStats Compute(MomentGraph graph)
    {
        var moments = graph.Moments;
        return new GraphStats(
            TotalNodes: moments.Count,
            TotalEdges: graph.EdgeTypeCounts.Values.Sum(),
            LayerCounts: CountBy(moments, m => m.Layer.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            EdgeTypeCounts: graph.EdgeTypeCounts,
            SourceTypeCounts: CountBy(moments, m => m.SourceType),
            DateRange: new DateRange(moments.Min(m => m.Year), moments.Max(m => m.Year)),
            AvgConfidence: Math.Round(moments.Average(m => m.Confidence), 3),
            LastUpdated: graph.LastUpdated,
            NodesWithImages: moments.Count(m => m.HasImage));
    }

    private static SortedDictionary<string, int> CountBy(IEnumerable<MomentData> moments, Func<MomentData, string> key) =>
        new(moments.GroupBy(key).ToDictionary(g => g.Key, g => g.Count()), StringComparer.Ordinal);
}

public sealed record GraphStats(
    int TotalNodes,
    int TotalEdges,
    IReadOnlyDictionary<string, int> LayerCounts,
    IReadOnlyDictionary<string, int> EdgeTypeCounts,
    IReadOnlyDictionary<string, int> SourceTypeCounts,
    DateRange DateRange,
    double AvgConfidence,
    DateTimeOffset LastUpdated,
    int NodesWithImages);

public sealed record DateRange(int MinYear, int MaxYear);
