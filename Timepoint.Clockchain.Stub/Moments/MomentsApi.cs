using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Timepoint.Clockchain.Stub.Graph;

namespace Timepoint.Clockchain.Stub.Moments;

/// <summary>Public reads of the moments graph (docs/contract.md#5-backends): search and page, or look one up by its canonical path.</summary>
public static class MomentsApi
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;
    public const int MaxQueryLength = 200;

    /// <summary>Sort keys; a leading <c>-</c> reverses. Ties fall back to the canonical path, so pages are stable.</summary>
    public static readonly string[] SortKeys = ["date", "-date", "name", "-name", "confidence", "-confidence"];

    public static WebApplication MapMomentsApi(this WebApplication app)
    {
        var moments = app.MapGroup("/api/v1/moments");
        moments.MapGet("/", List).WithName("ListMoments").WithSummary("Searches and pages the moments (q, year_from, year_to, entity, sort; limit 1..100, offset).").ProducesProblems(422);
        moments.MapGet("/{**path}", Get).WithName("GetMoment").WithSummary("One moment by its canonical path, with its edges.").ProducesProblems(404);
        return app;
    }

    private static Results<Ok<MomentPage>, ProblemHttpResult> List(
        MomentGraph graph,
        int? limit,
        int? offset,
        string? q,
        [FromQuery(Name = "year_from")] int? yearFrom,
        [FromQuery(Name = "year_to")] int? yearTo,
        string? entity,
        string? sort)
    {
        var take = limit ?? DefaultLimit;
        var skip = offset ?? 0;
        var order = string.IsNullOrWhiteSpace(sort) ? "date" : sort.Trim().ToLowerInvariant();
        var errors = new Dictionary<string, string[]>();
        if (take is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}."];
        }

        if (skip < 0)
        {
            errors["offset"] = ["offset must be 0 or more."];
        }

        if (yearFrom > yearTo)
        {
            errors["year_from"] = ["year_from must not be after year_to."];
        }

        if (q?.Length > MaxQueryLength)
        {
            errors["q"] = [$"q must be at most {MaxQueryLength} characters."];
        }

        if (!SortKeys.Contains(order))
        {
            errors["sort"] = [$"sort must be one of: {string.Join(", ", SortKeys)}."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation("The moments query is not valid.", errors);
        }

        var matches = graph.Moments
            .Where(m => yearFrom is null || m.Year >= yearFrom)
            .Where(m => yearTo is null || m.Year <= yearTo)
            .Where(m => string.IsNullOrWhiteSpace(entity) || m.Figures.Contains(entity.Trim(), StringComparer.OrdinalIgnoreCase))
            .Where(m => string.IsNullOrWhiteSpace(q) || graph.Matches(m, q));
        var sorted = Sort(matches, order).ToList();

        return TypedResults.Ok(new MomentPage(
            sorted.Skip(skip).Take(take).Select(m => MomentItem.From(m)).ToList(), sorted.Count, take, skip));
    }

    private static Results<Ok<MomentItem>, ProblemHttpResult> Get(string path, MomentGraph graph) =>
        graph.Find(path) is { } moment
            ? TypedResults.Ok(MomentItem.From(moment, graph.EdgesOf(moment)))
            : Problems.NotFound($"No moment at '{path}'.");

    private static IOrderedEnumerable<MomentData> Sort(IEnumerable<MomentData> moments, string order) => order switch
    {
        "-date" => moments.OrderByDescending(m => m.Year).ThenByDescending(m => m.Month ?? 0).ThenByDescending(m => m.Day ?? 0)
            .ThenBy(m => m.Path, StringComparer.Ordinal),
        "name" => moments.OrderBy(m => m.Name, StringComparer.OrdinalIgnoreCase).ThenBy(m => m.Path, StringComparer.Ordinal),
        "-name" => moments.OrderByDescending(m => m.Name, StringComparer.OrdinalIgnoreCase).ThenBy(m => m.Path, StringComparer.Ordinal),
        "confidence" => moments.OrderBy(m => m.Confidence).ThenBy(m => m.Path, StringComparer.Ordinal),
        "-confidence" => moments.OrderByDescending(m => m.Confidence).ThenBy(m => m.Path, StringComparer.Ordinal),
        _ => moments.OrderBy(m => m.Year).ThenBy(m => m.Month ?? 0).ThenBy(m => m.Day ?? 0).ThenBy(m => m.Path, StringComparer.Ordinal),
    };
}

public sealed record MomentPage(IReadOnlyList<MomentItem> Items, int Total, int Limit, int Offset);
