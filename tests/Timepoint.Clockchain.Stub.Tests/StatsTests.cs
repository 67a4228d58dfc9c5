using System.Text.Json;

namespace Timepoint.Clockchain.Stub.Tests;

public sealed class StatsTests(ClockchainApp app) : IClassFixture<ClockchainApp>
{
    [Fact]
    public async Task Stats_agree_with_the_moments_served()
    {
        var stats = await app.GetJsonAsync("/api/v1/stats");
        var moments = await app.AllMomentsAsync();

        Assert.Equal(moments.Count, stats.GetProperty("total_nodes").GetInt32());
        Assert.Equal(moments.Count(m => m.GetProperty("has_image").GetBoolean()), stats.GetProperty("nodes_with_images").GetInt32());
        Assert.Equal(moments.Min(m => m.GetProperty("year").GetInt32()), stats.GetProperty("date_range").GetProperty("min_year").GetInt32());
        Assert.Equal(moments.Max(m => m.GetProperty("year").GetInt32()), stats.GetProperty("date_range").GetProperty("max_year").GetInt32());
        Assert.Equal(moments.Average(m => m.GetProperty("confidence").GetDouble()), stats.GetProperty("avg_confidence").GetDouble(), 3);
        Assert.Equal(CountBy(moments, m => m.GetProperty("layer").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Counts(stats.GetProperty("layer_counts")));
        Assert.Equal(CountBy(moments, m => m.GetProperty("source_type").GetString()!), Counts(stats.GetProperty("source_type_counts")));
        Assert.True(stats.GetProperty("last_updated").TryGetDateTimeOffset(out _));

        var edges = ExpectedEdgeCounts(moments);
        Assert.Equal(edges, Counts(stats.GetProperty("edge_type_counts")));
        Assert.Equal(edges.Values.Sum(), stats.GetProperty("total_edges").GetInt32());
        Assert.True(edges["same_year"] > 0 && edges["same_place"] > 0 && edges["same_figure"] > 0);
    }

    /// <summary>Undirected pairs sharing a year, a place, or at least one figure; computed here independently of the service.</summary>
    private static Dictionary<string, int> ExpectedEdgeCounts(List<JsonElement> moments)
    {
        var counts = new Dictionary<string, int> { ["same_year"] = 0, ["same_place"] = 0, ["same_figure"] = 0 };
        var figures = moments.Select(m => m.GetProperty("figures").EnumerateArray().Select(f => f.GetString()!.ToLowerInvariant()).ToHashSet()).ToList();
        for (var i = 0; i < moments.Count; i++)
        {
            for (var j = i + 1; j < moments.Count; j++)
            {
                if (moments[i].GetProperty("year").GetInt32() == moments[j].GetProperty("year").GetInt32())
                {
                    counts["same_year"]++;
                }

                if (string.Equals(moments[i].GetProperty("place").GetString(), moments[j].GetProperty("place").GetString(), StringComparison.OrdinalIgnoreCase))
                {
                    counts["same_place"]++;
                }

                if (figures[i].Overlaps(figures[j]))
                {
                    counts["same_figure"]++;
                }
            }
        }

        return counts;
    }

    private static Dictionary<string, int> CountBy(IEnumerable<JsonElement> moments, Func<JsonElement, string> key) =>
        moments.GroupBy(key).ToDictionary(g => g.Key, g => g.Count());

    private static Dictionary<string, int> Counts(JsonElement map) =>
        map.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
}
