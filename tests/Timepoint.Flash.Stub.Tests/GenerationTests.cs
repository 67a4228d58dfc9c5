using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Timepoint.Flash.Stub.Timepoints;

namespace Timepoint.Flash.Stub.Tests;

public sealed class GenerationTests(FlashApp app) : IClassFixture<FlashApp>
{
    private static readonly string[] TimepointFields =
    [
        "id", "query", "slug", "status", "year", "month", "day", "season", "time_of_day", "era", "location", "image_prompt",
        "has_image", "image_url", "text_model_used", "image_model_used", "created_at", "visibility", "preset_used",
        "generation_time_ms", "characters", "scene", "dialog",
    ];

    [Fact]
    public async Task Sync_generation_returns_a_completed_timepoint_with_every_documented_field()
    {
        var timepoint = await app.GenerateSyncAsync(Guid.NewGuid(), "The signing of the Declaration of Independence, July 1776");

        foreach (var field in TimepointFields)
        {
            Assert.True(timepoint.TryGetProperty(field, out _), $"missing {field}");
        }

        Assert.Equal("completed", timepoint.GetProperty("status").GetString());
        Assert.Equal(1776, timepoint.GetProperty("year").GetInt32());
        Assert.Equal(7, timepoint.GetProperty("month").GetInt32());
        Assert.Equal("summer", timepoint.GetProperty("season").GetString());
        Assert.Equal("the-signing-of-the-declaration-of-independence-july-1776", timepoint.GetProperty("slug").GetString());
        Assert.Equal("balanced", timepoint.GetProperty("preset_used").GetString());
        Assert.Equal("public", timepoint.GetProperty("visibility").GetString());
        Assert.False(timepoint.GetProperty("has_image").GetBoolean());
        Assert.Equal(JsonValueKind.Null, timepoint.GetProperty("image_url").ValueKind);
        Assert.NotEmpty(timepoint.GetProperty("characters").EnumerateArray());
        Assert.NotEmpty(timepoint.GetProperty("dialog").EnumerateArray());
        Assert.False(string.IsNullOrEmpty(timepoint.GetProperty("scene").GetProperty("description").GetString()));
        Assert.False(string.IsNullOrEmpty(timepoint.GetProperty("image_prompt").GetString()));
    }

    [Fact]
    public async Task Same_query_gives_the_same_scene_whoever_asks()
    {
        var first = await app.GenerateSyncAsync(Guid.NewGuid(), "Apollo 11 lands on the Moon");
        var second = await app.GenerateSyncAsync(Guid.NewGuid(), "  Apollo 11   lands on the Moon ");

        Assert.NotEqual(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
        foreach (var field in new[] { "year", "month", "day", "season", "time_of_day", "era", "location", "characters", "scene", "dialog", "image_prompt" })
        {
            Assert.Equal(first.GetProperty(field).GetRawText(), second.GetProperty(field).GetRawText());
        }
    }

    [Fact]
    public async Task Query_case_does_not_change_when_and_where_the_scene_is()
    {
        var first = await app.GenerateSyncAsync(Guid.NewGuid(), "The Boston Tea Party");
        var second = await app.GenerateSyncAsync(Guid.NewGuid(), "THE BOSTON TEA PARTY");

        foreach (var field in new[] { "year", "month", "day", "season", "time_of_day", "era", "location" })
        {
            Assert.Equal(first.GetProperty(field).GetRawText(), second.GetProperty(field).GetRawText());
        }

        Assert.Equal(
            first.GetProperty("characters").EnumerateArray().Select(c => c.GetProperty("name").GetString()),
            second.GetProperty("characters").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
    }

    [Theory]
    [InlineData("Moon landing, July 20 1969", 1969, 7, 20, TimepointGenerator.UnnamedPlace)]
    [InlineData("Battle of Hastings, October 14 1066", 1066, 10, 14, "Hastings")]
    [InlineData("BATTLE OF HASTINGS, OCTOBER 14 1066", 1066, 10, 14, "Hastings")]
    [InlineData("The storming of the Bastille on the 14th of July 1789", 1789, 7, 14, "Bastille")]
    [InlineData("Caesar crosses the Rubicon near Ariminum, 10 January 49 BC", -49, 1, 10, "Ariminum")]
    [InlineData("The fall of Constantinople, May 29 1453", 1453, 5, 29, "Constantinople")]
    public async Task The_day_month_year_and_place_the_query_names_are_kept(string query, int year, int month, int day, string location)
    {
        var timepoint = await app.GenerateSyncAsync(Guid.NewGuid(), query);

        Assert.Equal(year, timepoint.GetProperty("year").GetInt32());
        Assert.Equal(month, timepoint.GetProperty("month").GetInt32());
        Assert.Equal(day, timepoint.GetProperty("day").GetInt32());
        Assert.Equal(location, timepoint.GetProperty("location").GetString());
    }

    [Fact]
    public async Task A_query_that_names_no_place_gets_the_same_fixed_place_not_a_random_city()
    {
        var first = await app.GenerateSyncAsync(Guid.NewGuid(), "Apollo 11 lands, 1969");
        var second = await app.GenerateSyncAsync(Guid.NewGuid(), "The first telephone call");
        var third = await app.GenerateSyncAsync(Guid.NewGuid(), "February 30 is no day");

        Assert.Equal(TimepointGenerator.UnnamedPlace, first.GetProperty("location").GetString());
        Assert.Equal(TimepointGenerator.UnnamedPlace, second.GetProperty("location").GetString());
        Assert.Equal(2, third.GetProperty("month").GetInt32());
        Assert.InRange(third.GetProperty("day").GetInt32(), 1, 28); // an impossible day named is not kept
    }

    [Fact]
    public async Task A_wrong_method_is_405_method_not_allowed()
    {
        using var response = await app.SendAsync(HttpMethod.Put, "/api/v1/timepoints/generate/sync", Guid.NewGuid(), FlashApp.Generate("Moon landing"));

        await Problem.AssertAsync(response, HttpStatusCode.MethodNotAllowed, "method_not_allowed");
    }

    [Fact]
    public async Task Different_queries_give_different_scenes()
    {
        var first = await app.GenerateSyncAsync(Guid.NewGuid(), "The fall of Constantinople");
        var second = await app.GenerateSyncAsync(Guid.NewGuid(), "The coronation of Charlemagne");

        Assert.NotEqual(first.GetProperty("scene").GetRawText(), second.GetProperty("scene").GetRawText());
    }

    [Fact]
    public async Task Generate_image_yields_a_png_served_by_flash()
    {
        var user = Guid.NewGuid();
        var timepoint = await app.GenerateSyncAsync(user, "Caesar crosses the Rubicon, 49 BC", generateImage: true);

        Assert.True(timepoint.GetProperty("has_image").GetBoolean());
        Assert.Equal(-49, timepoint.GetProperty("year").GetInt32());
        var url = timepoint.GetProperty("image_url").GetString()!;
        using var image = await app.SendAsync(HttpMethod.Get, url, user);
        Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        Assert.Equal("image/png", image.Content.Headers.ContentType?.MediaType);
        var bytes = await image.Content.ReadAsByteArrayAsync();
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);

        using var again = await app.SendAsync(HttpMethod.Get, url, user);
        Assert.Equal(bytes, await again.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("hd")]
    [InlineData("hyper")]
    [InlineData("gemini3")]
    public async Task Each_documented_preset_is_accepted_and_reported(string preset)
    {
        using var response = await app.SendAsync(HttpMethod.Post, "/api/v1/timepoints/generate/sync", Guid.NewGuid(),
            FlashApp.Generate("The Battle of Hastings", preset: preset, visibility: "private"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var timepoint = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(preset, timepoint.GetProperty("preset_used").GetString());
        Assert.Equal("private", timepoint.GetProperty("visibility").GetString());
    }

    public static TheoryData<string, Dictionary<string, object?>> InvalidRequests() => new()
    {
        { "query", FlashApp.Generate("ab") },
        { "query", FlashApp.Generate(new string('x', 501)) },
        { "query", FlashApp.Generate("   ab   ") },
        { "preset", FlashApp.Generate("The Battle of Hastings", preset: "ultra") },
        { "visibility", FlashApp.Generate("The Battle of Hastings", visibility: "friends") },
    };

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public async Task Invalid_generate_requests_are_422_and_store_nothing(string field, Dictionary<string, object?> body)
    {
        var user = Guid.NewGuid();
        foreach (var route in new[] { "/api/v1/timepoints/generate/sync", "/api/v1/timepoints/generate", "/api/v1/timepoints/generate/stream" })
        {
            using var response = await app.SendAsync(HttpMethod.Post, route, user, body);
            var problem = await Problem.AssertAsync(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
        }

        var list = await app.ListAsync(user);
        Assert.Equal(0, list.GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("{\"query\":\"Moon landing \\u0000 1969\"}", "query")]
    [InlineData("{\"query\":\"Moon landing \\ud800 1969\"}", "query")]
    [InlineData("{\"query\":\"Moon landing 1969\",\"preset\":\"\\udc00\"}", "preset")]
    public async Task Nul_or_a_lone_surrogate_is_400_naming_the_field_and_stores_nothing(string json, string field)
    {
        var user = Guid.NewGuid();
        foreach (var route in new[] { "/api/v1/timepoints/generate/sync", "/api/v1/timepoints/generate", "/api/v1/timepoints/generate/stream" })
        {
            var request = new HttpRequestMessage(HttpMethod.Post, route)
            {
                Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json"),
            }.Signed(app.Factory.GatewaySecret, user, charge: GatewayRequests.Charge());
            using var response = await app.Client.SendAsync(request);

            var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "validation_failed");
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
        }

        using var search = await app.SendAsync(HttpMethod.Get, "/api/v1/timepoints?q=%00", user);
        await Problem.AssertAsync(search, HttpStatusCode.BadRequest, "validation_failed");
        Assert.Equal(0, (await app.ListAsync(user)).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task Malformed_json_is_a_validation_problem()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync")
        {
            Content = new StringContent("{\"query\":", System.Text.Encoding.UTF8, "application/json"),
        }.Signed(app.Factory.GatewaySecret, Guid.NewGuid(), charge: GatewayRequests.Charge());

        using var response = await app.Client.SendAsync(request);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Async_generation_is_accepted_as_processing_then_completes_with_the_same_scene_as_sync()
    {
        var user = Guid.NewGuid();
        const string query = "The first performance of Beethoven's Ninth Symphony, Vienna 1824";

        using var accepted = await app.SendAsync(HttpMethod.Post, "/api/v1/timepoints/generate", user, FlashApp.Generate(query));

        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var body = await accepted.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("processing", body.GetProperty("status").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("message").GetString()));
        var id = body.GetProperty("id").GetGuid();

        using (var early = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}", user))
        {
            var status = (await early.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString();
            Assert.Contains(status, new[] { "processing", "completed" });
        }

        var completed = await PollUntilCompletedAsync(user, id);
        var sync = await app.GenerateSyncAsync(Guid.NewGuid(), query);
        Assert.Equal(sync.GetProperty("scene").GetRawText(), completed.GetProperty("scene").GetRawText());
        Assert.Equal(1824, completed.GetProperty("year").GetInt32());
        Assert.Equal("Vienna, Austria", completed.GetProperty("location").GetString());
    }

    private async Task<JsonElement> PollUntilCompletedAsync(Guid user, Guid id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            using var response = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}", user);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var timepoint = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (timepoint.GetProperty("status").GetString() == "completed")
            {
                return timepoint;
            }

            Assert.True(DateTime.UtcNow < deadline, "async generation did not complete");
            await Task.Delay(100);
        }
    }
}
