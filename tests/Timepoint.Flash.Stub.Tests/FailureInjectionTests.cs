using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Flash.Stub.Tests;

public sealed class FailureInjectionTests(FlashApp app) : IClassFixture<FlashApp>
{
    private const string SyncRoute = "/api/v1/timepoints/generate/sync";

    private HttpRequestMessage WithSwitch(string mode, string route, Guid? user)
    {
        var request = app.Request(HttpMethod.Post, route, user, FlashApp.Generate("The Great Fire of London, 1666"));
        request.Headers.Add("X-Flash-Fail", mode);
        return request;
    }

    [Theory]
    [InlineData(SyncRoute)]
    [InlineData("/api/v1/timepoints/generate")]
    [InlineData("/api/v1/timepoints/generate/stream")]
    public async Task Error_switch_answers_500_and_stores_nothing_when_allowed(string route)
    {
        var user = Guid.NewGuid();

        using var response = await app.Client.SendAsync(WithSwitch("error", route, user));

        await Problem.AssertAsync(response, HttpStatusCode.InternalServerError, "internal_error");
        Assert.Equal(0, (await app.ListAsync(user)).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task Delay_switch_waits_the_configured_time_then_answers()
    {
        var watch = Stopwatch.StartNew();

        using var response = await app.Client.SendAsync(WithSwitch("delay", SyncRoute, Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(0.9), $"answered after {watch.Elapsed}");
    }

    [Fact]
    public async Task Delay_switch_gives_up_when_the_caller_goes_away()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            app.Client.SendAsync(WithSwitch("delay", SyncRoute, Guid.NewGuid()), cancel.Token));
    }

    [Fact]
    public async Task Break_stream_switch_sends_some_steps_then_breaks_before_done_and_stores_nothing()
    {
        var user = Guid.NewGuid();

        using var response = await app.Client.SendAsync(WithSwitch("break_stream", "/api/v1/timepoints/generate/stream", user),
            HttpCompletionOption.ResponseHeadersRead);
        var (events, endedCleanly) = await StreamReading.ReadEventsAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(endedCleanly);
        Assert.Equal("start", events[0].GetProperty("event").GetString());
        Assert.Contains(events, e => e.GetProperty("event").GetString() == "step_complete");
        Assert.DoesNotContain(events, e => e.GetProperty("event").GetString() == "done");
        Assert.Equal(0, (await app.ListAsync(user)).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task Break_stream_switch_leaves_sync_generation_alone()
    {
        using var response = await app.Client.SendAsync(WithSwitch("break_stream", SyncRoute, Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Switch_without_a_gateway_identity_is_refused_not_honoured()
    {
        using var response = await app.Client.SendAsync(WithSwitch("error", SyncRoute, null));

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "auth.missing");
    }

    [Fact]
    public async Task Unknown_switch_value_is_ignored()
    {
        using var response = await app.Client.SendAsync(WithSwitch("explode", SyncRoute, Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

public sealed class LockedFailureInjectionTests(LockedFlashApp app) : IClassFixture<LockedFlashApp>
{
    [Theory]
    [InlineData("error")]
    [InlineData("delay")]
    public async Task Switch_is_ignored_when_the_configuration_does_not_allow_it(string mode)
    {
        var request = app.Request(HttpMethod.Post, "/api/v1/timepoints/generate/sync", Guid.NewGuid(), FlashApp.Generate("The Great Fire of London"));
        request.Headers.Add("X-Flash-Fail", mode);
        var watch = Stopwatch.StartNew();

        using var response = await app.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30));
        Assert.Equal("completed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
    }
}

public sealed class ConfiguredFailureTests(FailingFlashApp app) : IClassFixture<FailingFlashApp>
{
    [Fact]
    public async Task Configured_error_mode_fails_every_generate_request_but_not_reads()
    {
        var user = Guid.NewGuid();

        using var response = await app.SendAsync(HttpMethod.Post, "/api/v1/timepoints/generate/sync", user, FlashApp.Generate("The Great Fire of London"));

        await Problem.AssertAsync(response, HttpStatusCode.InternalServerError, "internal_error");
        Assert.Equal(0, (await app.ListAsync(user)).GetProperty("total").GetInt32());
    }
}
