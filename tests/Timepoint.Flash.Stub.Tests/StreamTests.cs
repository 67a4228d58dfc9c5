using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Flash.Stub.Tests;

public sealed class StreamTests(FlashApp app) : IClassFixture<FlashApp>
{
    private static readonly string[] Steps =
        ["Judge", "Timeline", "Grounding", "Scene", "Characters", "Moment", "Camera", "Dialog", "Critique", "ImagePrompt", "Optimizer", "ImageGen"];

    [Fact]
    public async Task Stream_sends_start_each_step_in_order_then_done_with_a_stored_timepoint()
    {
        var user = Guid.NewGuid();
        using var response = await app.Client.SendAsync(
            app.Request(HttpMethod.Post, "/api/v1/timepoints/generate/stream", user, FlashApp.Generate("The fall of the Berlin Wall, November 1989")),
            HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var (events, endedCleanly) = await StreamReading.ReadEventsAsync(response);

        Assert.True(endedCleanly);
        Assert.Equal(["start", .. Steps.Select(_ => "step_complete"), "done"], events.Select(e => e.GetProperty("event").GetString()));
        Assert.Equal(Steps, events.Skip(1).Take(Steps.Length).Select(e => e.GetProperty("step").GetString()));
        foreach (var e in events)
        {
            foreach (var member in new[] { "event", "step", "data", "progress", "error" })
            {
                Assert.True(e.TryGetProperty(member, out _), $"event without {member}");
            }

            Assert.Equal(JsonValueKind.Null, e.GetProperty("error").ValueKind);
        }

        var progress = events.Select(e => e.GetProperty("progress").GetInt32()).ToList();
        Assert.Equal(progress.Order(), progress);
        Assert.Equal(100, progress[^1]);

        var id = events[^1].GetProperty("data").GetProperty("timepoint_id").GetString();
        using var stored = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}", user);
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        var timepoint = await stored.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("completed", timepoint.GetProperty("status").GetString());
        Assert.Equal(1989, timepoint.GetProperty("year").GetInt32());
        Assert.Equal(11, timepoint.GetProperty("month").GetInt32());
    }
}
