using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
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
