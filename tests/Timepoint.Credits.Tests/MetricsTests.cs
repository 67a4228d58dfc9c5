using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Timepoint.Credits.Tests;

public sealed class MetricsTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    [Fact]
    public async Task Charges_refunds_and_refusals_are_counted_in_credits_per_operation()
    {
        var meters = app.Services.GetRequiredService<IMeterFactory>();
        var recorded = new ConcurrentQueue<(string Instrument, string? Unit, long Value, object? Operation)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Only this app's meter: other test classes run their own hosts at the same time.
            if (instrument.Meter.Name == "Timepoint.Credits" && ReferenceEquals(instrument.Meter.Scope, meters))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            object? operation = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "operation")
                {
                    operation = tag.Value;
                }
            }

            recorded.Enqueue((instrument.Name, instrument.Unit, value, operation));
        });
        listener.Start();

        var user = await app.NewUser();
        var id = (await app.ReserveOk(user, "conductor_compare")).GetProperty("reservation_id").GetGuid();
        using (var refund = await app.Service(HttpMethod.Post, $"/internal/credits/reservations/{id}/refund"))
        {
            await CreditsApp.Ok(refund);
        }

        for (var i = 0; i < 3; i++)
        {
            await app.ReserveOk(user, "conductor_pro_sim");
        }

        using (await app.Reserve(user, "conductor_pro_sim"))
        {
        }

        Assert.Contains(("credits.charged", "{credit}", 10L, (object?)"conductor_compare"), recorded);
        Assert.Contains(("credits.refunded", "{credit}", 10L, (object?)"conductor_compare"), recorded);
        Assert.Contains(("credits.refused", "{credit}", 15L, (object?)"conductor_pro_sim"), recorded);
    }
}
