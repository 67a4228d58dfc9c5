using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Timepoint.Gateway.Tests;

/// <summary>The metered path against a stand-in credits that answers a reservation only when the test lets it.</summary>
public sealed class MeteringEdgeTests : EdgeHarness
{
    private readonly HeldCredits credits = new();

    protected override Task StartStandInsAsync() => credits.StartAsync();

    protected override void Configure(Dictionary<string, string?> settings) =>
        settings["Downstream:credits:BaseAddress"] = credits.Address.ToString();

    [Fact]
    public async Task A_client_that_goes_away_while_credits_reserves_gets_its_credits_back_at_once_and_nothing_is_forwarded()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync")
        {
            Content = new StringContent("""{"query":"The fall of Constantinople, 1453","preset":"balanced"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", identity.Token(Guid.NewGuid()));
        using var gone = new CancellationTokenSource();
        var call = client.SendAsync(request, gone.Token);

        await credits.ReserveArrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        gone.Cancel();
        await Task.Delay(500); // the abort reaches the edge's request (the in-memory client ends its call only with the server)
        credits.Release.SetResult();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        var refunded = await credits.Refunded.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HeldCredits.ReservationId, refunded);
        Assert.Equal(0, Volatile.Read(ref backend.Requests));
        Assert.Empty(credits.Settled);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await credits.DisposeAsync();
    }

    private sealed class HeldCredits : StandIn
    {
        public static readonly Guid ReservationId = Guid.NewGuid();

        public TaskCompletionSource ReserveArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<Guid> Refunded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ConcurrentBag<Guid> Settled { get; } = [];

        protected override void Map(WebApplication app)
        {
            app.MapPost("/internal/credits/reserve", async () =>
            {
                ReserveArrived.TrySetResult();
                await Release.Task;
                return Results.Json(new Dictionary<string, object>
                {
                    ["reservation_id"] = ReservationId, ["operation"] = "generate_balanced", ["charged"] = 5,
                    ["balance_after"] = 45, ["status"] = "reserved", ["replayed"] = false,
                });
            });
            app.MapPost("/internal/credits/reservations/{id:guid}/refund", (Guid id) =>
            {
                Refunded.TrySetResult(id);
                return Results.Json(new Dictionary<string, object>
                {
                    ["reservation_id"] = id, ["status"] = "refunded", ["balance_after"] = 50,
                });
            });
            app.MapPost("/internal/credits/reservations/settle", (HttpContext context) =>
            {
                Settled.Add(Guid.Empty);
                return Results.StatusCode(500);
            });
        }
    }
}

/// <summary>
/// The charge follows the work the backend did, not whether the client stayed: a client that leaves once its call is
/// forwarded does not cancel it, and the backend's answer (its 2xx, or a stream's <c>done</c>) decides settle or refund.
/// The stand-in flash holds its answer until the test has cut the client off, so every try is the same race.
/// </summary>
public sealed class MeteringClientGoneTests : EdgeHarness
{
    private const int Tries = 3;
    private readonly LedgerCredits credits = new();
    private readonly HeldFlash flash = new();

    protected override async Task StartStandInsAsync()
    {
        await credits.StartAsync();
        await flash.StartAsync();
    }

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Downstream:credits:BaseAddress"] = credits.Address.ToString();
        settings["Gateway:Destinations:flash"] = flash.Address.ToString();
    }

    [Theory]
    [InlineData("/api/v1/timepoints/generate/sync")]
    [InlineData("/api/v1/timepoints/generate")]
    public async Task A_client_that_resets_right_after_sending_is_charged_once_the_backend_answered_200(string path)
    {
        for (var i = 0; i < Tries; i++)
        {
            var user = Guid.NewGuid();
            var held = flash.Hold(user);
            using var gone = new CancellationTokenSource();
            var call = client.SendAsync(Generate(path, user), gone.Token);

            await held.Arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
            gone.Cancel(); // the in-memory server aborts the edge's request at once; its call ends with the server's
            held.Release.SetResult();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

            Assert.Equal("settled", await credits.OutcomeAsync(user));
            Assert.True(held.Finished.Task.IsCompletedSuccessfully, "the backend answered");
        }
    }

    /// <summary>done from the backend: charged, whoever read it; the backend cutting the stream instead: refunded.</summary>
    [Theory]
    [InlineData(false, "settled")]
    [InlineData(true, "refunded")]
    public async Task A_stream_read_until_its_last_step_then_reset_settles_on_what_the_backend_sent(bool backendBreaksBeforeDone, string outcome)
    {
        for (var i = 0; i < Tries; i++)
        {
            var user = Guid.NewGuid();
            var held = flash.Hold(user, backendBreaksBeforeDone);

            await ReadToLastStepThenResetAsync(user);
            held.Release.SetResult();

            Assert.Equal(outcome, await credits.OutcomeAsync(user));
            Assert.Equal(!backendBreaksBeforeDone, await held.Finished.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }

    [Fact]
    public async Task A_retry_of_a_stream_whose_client_left_replays_it_to_done_and_is_not_charged_again()
    {
        var user = Guid.NewGuid();
        var held = flash.Hold(user);
        await ReadToLastStepThenResetAsync(user, "retry-after-reset");
        held.Release.SetResult();
        Assert.Equal("settled", await credits.OutcomeAsync(user));

        using var retry = Generate("/api/v1/timepoints/generate/stream", user);
        retry.Headers.Add("Idempotency-Key", "retry-after-reset");
        using var replayed = await client.SendAsync(retry);

        Assert.Equal(System.Net.HttpStatusCode.OK, replayed.StatusCode);
        Assert.Equal("true", replayed.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal("0", replayed.Headers.GetValues("X-Credits-Charged").Single());
        Assert.Contains("event: done", await replayed.Content.ReadAsStringAsync());
    }

    private async Task ReadToLastStepThenResetAsync(Guid user, string? idempotencyKey = null)
    {
        using var gone = new CancellationTokenSource();
        using var request = Generate("/api/v1/timepoints/generate/stream", user);
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, gone.Token);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(gone.Token));
        while (await reader.ReadLineAsync(gone.Token) is { } line && line != HeldFlash.LastStep)
        {
        }

        // The reset: the client stops reading and drops the connection with the last step's content in hand.
        gone.Cancel();
        response.Dispose();
    }

    private HttpRequestMessage Generate(string path, Guid user)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent("""{"query":"The fall of Constantinople, 1453","preset":"balanced"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", identity.Token(user));
        return request;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await credits.DisposeAsync();
        await flash.DisposeAsync();
    }

    /// <summary>Credits that reserves at once and remembers how each user's reservation ended.</summary>
    private sealed class LedgerCredits : StandIn
    {
        private readonly ConcurrentDictionary<Guid, Guid> reservations = new();
        private readonly ConcurrentDictionary<string, Guid> keys = new();
        private readonly ConcurrentDictionary<Guid, string> outcomes = new();

        /// <summary>How the user's one reservation ended: settled or refunded (failing if both, or neither in time).</summary>
        public async Task<string> OutcomeAsync(Guid user)
        {
            for (var i = 0; i < 100; i++)
            {
                if (reservations.TryGetValue(user, out var id) && outcomes.TryGetValue(id, out var outcome))
                {
                    await Task.Delay(200); // a second, contradicting answer would land here
                    return outcomes[id];
                }

                await Task.Delay(100);
            }

            return "open";
        }

        protected override void Map(WebApplication app)
        {
            app.MapPost("/internal/credits/reserve", async (HttpContext context) =>
            {
                var body = await context.Request.ReadFromJsonAsync<JsonElement>();
                var fresh = Guid.NewGuid();
                var id = keys.GetOrAdd(body.GetProperty("idempotency_key").GetString()!, fresh);
                reservations.TryAdd(body.GetProperty("user_id").GetGuid(), id);
                return Results.Json(new Dictionary<string, object>
                {
                    ["reservation_id"] = id, ["operation"] = "generate_balanced", ["charged"] = 5,
                    ["balance_after"] = 45, ["status"] = outcomes.GetValueOrDefault(id, "reserved"), ["replayed"] = id != fresh,
                });
            });
            app.MapPost("/internal/credits/reservations/{id:guid}/refund", (Guid id) =>
            {
                outcomes.AddOrUpdate(id, "refunded", (_, was) => was + "+refunded");
                return Results.Json(new Dictionary<string, object> { ["reservation_id"] = id, ["status"] = "refunded", ["balance_after"] = 50 });
            });
            app.MapPost("/internal/credits/reservations/settle", async (HttpContext context) =>
            {
                var body = await context.Request.ReadFromJsonAsync<JsonElement>();
                var ids = body.GetProperty("reservation_ids").EnumerateArray().Select(e => e.GetGuid()).ToList();
                foreach (var id in ids)
                {
                    outcomes.AddOrUpdate(id, "settled", (_, was) => was + "+settled");
                }

                return Results.Json(new { reservations = ids.Select(id => new { reservation_id = id, status = "settled" }) });
            });
        }
    }

    /// <summary>
    /// Flash that does its work whatever its caller does: it answers (or sends its last event) only once the test releases
    /// it, never looking at whether the edge is still there. A stream sends three step_complete events, then done (or
    /// breaks the connection instead).
    /// </summary>
    private sealed class HeldFlash : StandIn
    {
        public const string LastStep = "event: step_complete3";

        private readonly ConcurrentDictionary<Guid, Held> held = new();

        public sealed record Held(bool BreakBeforeDone)
        {
            public TaskCompletionSource Arrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            /// <summary>True once the answer was sent to its end; false when the backend broke it.</summary>
            public TaskCompletionSource<bool> Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public Held Hold(Guid user, bool breakBeforeDone = false) => held[user] = new Held(breakBeforeDone);

        protected override void Map(WebApplication app)
        {
            app.MapPost("/api/v1/timepoints/{**mode}", async (HttpContext context, string mode) =>
            {
                var call = held[Guid.Parse(context.Request.Headers["X-User-Id"].ToString())];
                call.Arrived.TrySetResult();
                if (mode != "generate/stream")
                {
                    await call.Release.Task;
                    await context.Response.WriteAsJsonAsync(new { id = Guid.NewGuid(), status = "completed" }, CancellationToken.None);
                    call.Finished.TrySetResult(true);
                    return;
                }

                context.Response.ContentType = "text/event-stream";
                for (var step = 1; step <= 3; step++)
                {
                    await context.Response.WriteAsync($"event: step_complete{step}\ndata: {{\"step\":{step}}}\n\n", CancellationToken.None);
                    await context.Response.Body.FlushAsync(CancellationToken.None);
                }

                await call.Release.Task;
                await Task.Delay(100, CancellationToken.None); // the edge has seen its client go before the last event
                if (call.BreakBeforeDone)
                {
                    call.Finished.TrySetResult(false);
                    context.Abort();
                    return;
                }

                await context.Response.WriteAsync("event: done\ndata: {\"status\":\"completed\"}\n\n", CancellationToken.None);
                call.Finished.TrySetResult(true);
            });
        }
    }
}
