using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Hosting;

namespace Timepoint.Clockchain.Stub.Tests;

public sealed class MomentsTests(ClockchainApp app) : IClassFixture<ClockchainApp>
{
    private static readonly string[] ItemFields =
    [
        "path", "name", "slug", "year", "month", "day", "display_date", "place", "figures", "tags", "one_liner",
        "confidence", "source_type", "layer", "has_image",
    ];

    private static (int Year, int Month, int Day) DateOf(JsonElement m) => (
        m.GetProperty("year").GetInt32(),
        m.GetProperty("month").ValueKind == JsonValueKind.Null ? 0 : m.GetProperty("month").GetInt32(),
        m.GetProperty("day").ValueKind == JsonValueKind.Null ? 0 : m.GetProperty("day").GetInt32());

    private static List<string> Paths(IEnumerable<JsonElement> items) => items.Select(m => m.GetProperty("path").GetString()!).ToList();

    [Fact]
    public async Task Default_page_is_the_first_twenty_moments_in_date_order_with_every_field()
    {
        var page = await app.GetJsonAsync("/api/v1/moments");

        Assert.Equal(20, page.GetProperty("limit").GetInt32());
        Assert.Equal(0, page.GetProperty("offset").GetInt32());
        Assert.True(page.GetProperty("total").GetInt32() >= 200, "a few hundred moments ship with the stub");
        var items = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(20, items.Count);
        foreach (var item in items)
        {
            foreach (var field in ItemFields)
            {
                Assert.True(item.TryGetProperty(field, out _), $"missing {field}");
            }

            Assert.False(item.TryGetProperty("edges", out _));
        }

        var dates = items.Select(DateOf).ToList();
        Assert.Equal(dates.Order(), dates);
        Assert.True(dates[0].Year < 0, "the data set reaches back before the common era");
    }

    [Fact]
    public async Task Pages_cover_every_moment_exactly_once()
    {
        var total = (await app.GetJsonAsync("/api/v1/moments?limit=1")).GetProperty("total").GetInt32();

        var all = await app.AllMomentsAsync();

        Assert.Equal(total, all.Count);
        Assert.Equal(total, Paths(all).Distinct().Count());
        var past = await app.GetJsonAsync($"/api/v1/moments?offset={total}");
        Assert.Empty(past.GetProperty("items").EnumerateArray());
        Assert.Equal(total, past.GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=101", "limit")]
    [InlineData("?offset=-1", "offset")]
    [InlineData("?sort=popularity", "sort")]
    [InlineData("?year_from=1900&year_to=1800", "year_from")]
    public async Task Invalid_queries_are_422_naming_the_parameter(string query, string field)
    {
        using var response = await app.Client.GetAsync("/api/v1/moments" + query);

        var problem = await Problem.AssertAsync(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task Non_numeric_limit_is_a_validation_problem()
    {
        using var response = await app.Client.GetAsync("/api/v1/moments?limit=lots");

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Year_range_keeps_only_moments_within_it_inclusive()
    {
        var all = await app.AllMomentsAsync();
        var expected = all.Where(m => DateOf(m).Year is >= 1789 and <= 1815).ToList();

        var filtered = await app.AllMomentsAsync("&year_from=1789&year_to=1815");

        Assert.NotEmpty(filtered);
        Assert.Equal(Paths(expected), Paths(filtered));
        Assert.Contains("1815/06/18/battle-of-waterloo", Paths(filtered));
        Assert.Contains("1789/07/14/storming-of-the-bastille", Paths(filtered));
    }

    [Fact]
    public async Task Negative_years_are_bce_and_filter_like_any_other()
    {
        var bce = await app.AllMomentsAsync("&year_to=-1");

        Assert.NotEmpty(bce);
        Assert.All(bce, m => Assert.True(DateOf(m).Year < 0));
        var caesar = Assert.Single(bce, m => m.GetProperty("path").GetString() == "-44/03/15/assassination-of-julius-caesar");
        Assert.Equal("15 March 44 BCE", caesar.GetProperty("display_date").GetString());
    }

    [Theory]
    [InlineData("apollo", "1969/07/20/apollo-11-moon-landing")]
    [InlineData("giant leap", "1969/07/20/apollo-11-moon-landing")]
    [InlineData("ARMSTRONG", "1969/07/20/apollo-11-moon-landing")]
    [InlineData("reformation", "1517/10/31/luther-posts-the-ninety-five-theses")]
    public async Task Search_matches_name_one_liner_figures_and_tags_ignoring_case(string q, string expectedPath)
    {
        var found = await app.AllMomentsAsync("&q=" + Uri.EscapeDataString(q));

        Assert.Contains(expectedPath, Paths(found));
        Assert.All(found, m =>
        {
            var text = string.Join(' ', new[] { m.GetProperty("name").GetString(), m.GetProperty("one_liner").GetString() }
                .Concat(m.GetProperty("figures").EnumerateArray().Select(f => f.GetString()))
                .Concat(m.GetProperty("tags").EnumerateArray().Select(t => t.GetString())));
            Assert.All(q.Split(' '), term => Assert.Contains(term, text, StringComparison.OrdinalIgnoreCase));
        });
    }

    [Fact]
    public async Task Search_without_matches_is_an_empty_page()
    {
        var page = await app.GetJsonAsync("/api/v1/moments?q=zzqxv-no-such-thing");

        Assert.Equal(0, page.GetProperty("total").GetInt32());
        Assert.Empty(page.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task Entity_filter_returns_the_moments_of_that_figure()
    {
        var napoleon = await app.AllMomentsAsync("&entity=" + Uri.EscapeDataString("napoleon bonaparte"));

        Assert.True(napoleon.Count >= 5);
        Assert.All(napoleon, m => Assert.Contains("Napoleon Bonaparte", m.GetProperty("figures").EnumerateArray().Select(f => f.GetString())));
        Assert.Contains("1815/06/18/battle-of-waterloo", Paths(napoleon));
    }

    [Fact]
    public async Task Filters_combine()
    {
        var found = await app.AllMomentsAsync("&entity=Winston%20Churchill&year_from=1945&q=speech");

        Assert.Equal(["1946/03/05/churchill-s-iron-curtain-speech"], Paths(found));
    }

    [Fact]
    public async Task Sorts_by_date_descending_name_and_confidence()
    {
        var byDateDesc = await app.AllMomentsAsync("&sort=-date");
        var byName = await app.AllMomentsAsync("&sort=name");
        var byConfidenceDesc = await app.AllMomentsAsync("&sort=-confidence");

        var dates = byDateDesc.Select(DateOf).ToList();
        Assert.Equal(dates.OrderDescending(), dates);
        var names = byName.Select(m => m.GetProperty("name").GetString()!).ToList();
        Assert.Equal(names.Order(StringComparer.OrdinalIgnoreCase), names);
        var confidences = byConfidenceDesc.Select(m => m.GetProperty("confidence").GetDouble()).ToList();
        Assert.Equal(confidences.OrderDescending(), confidences);
    }

    [Fact]
    public async Task Every_listed_path_resolves_to_that_moment()
    {
        foreach (var item in await app.AllMomentsAsync())
        {
            var path = item.GetProperty("path").GetString()!;
            var moment = await app.GetJsonAsync("/api/v1/moments/" + path);
            Assert.Equal(path, moment.GetProperty("path").GetString());
            Assert.Equal(item.GetProperty("name").GetString(), moment.GetProperty("name").GetString());
        }
    }

    [Fact]
    public async Task Single_moment_lists_its_edges_by_year_place_and_figure()
    {
        var waterloo = await app.GetJsonAsync("/api/v1/moments/1815/06/18/battle-of-waterloo");

        Assert.Equal("Battle of Waterloo", waterloo.GetProperty("name").GetString());
        Assert.Equal(1815, waterloo.GetProperty("year").GetInt32());
        Assert.Equal("Waterloo, Belgium", waterloo.GetProperty("place").GetString());
        var edges = waterloo.GetProperty("edges").EnumerateArray()
            .Select(e => (Type: e.GetProperty("type").GetString(), Path: e.GetProperty("path").GetString())).ToList();
        Assert.Contains(("same_year", "1815/04/10/eruption-of-mount-tambora"), edges);
        Assert.Contains(("same_figure", "1804/12/02/coronation-of-napoleon"), edges);
        Assert.Contains(("same_figure", "1830/09/15/opening-of-the-liverpool-and-manchester-railway"), edges); // the Duke of Wellington

        var bastille = await app.GetJsonAsync("/api/v1/moments/1789/07/14/storming-of-the-bastille");
        Assert.Contains(bastille.GetProperty("edges").EnumerateArray(), e =>
            e.GetProperty("type").GetString() == "same_place" && e.GetProperty("path").GetString() == "1793/01/21/execution-of-louis-xvi");
    }

    [Fact]
    public async Task Path_lookup_ignores_case_and_a_trailing_slash()
    {
        var moment = await app.GetJsonAsync("/api/v1/moments/1969/07/20/Apollo-11-Moon-Landing/");

        Assert.Equal("1969/07/20/apollo-11-moon-landing", moment.GetProperty("path").GetString());
    }

    [Theory]
    [InlineData("/api/v1/moments/1969/07/21/apollo-11-moon-landing")]
    [InlineData("/api/v1/moments/no-such-moment")]
    public async Task Unknown_path_is_404_problem(string path)
    {
        using var response = await app.Client.GetAsync(path);

        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Reads_need_no_identity_but_an_unsigned_user_id_is_refused()
    {
        using var anonymous = await app.Client.GetAsync("/api/v1/moments?limit=1");
        using var signed = await app.Client.SendAsync(
            new HttpRequestMessage(HttpMethod.Get, "/api/v1/stats").Signed(app.Factory.GatewaySecret, Guid.NewGuid()));
        var forged = new HttpRequestMessage(HttpMethod.Get, "/api/v1/stats");
        forged.Headers.Add(GatewayHeaders.UserId, Guid.NewGuid().ToString());
        using var refused = await app.Client.SendAsync(forged);

        Assert.Equal(HttpStatusCode.OK, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, signed.StatusCode);
        await Problem.AssertAsync(refused, HttpStatusCode.Forbidden, "auth.forbidden");
    }
}
