using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Flash.Stub.Tests;

/// <summary>Several flash processes on one flashdb, as replicas or restarts would be.</summary>
public sealed class ReplicaTests
{
    private static ServiceFactory<Program> Replica(string connectionString, int asyncDelayMilliseconds = 300)
    {
        var factory = new ServiceFactory<Program>();
        factory.Settings["ConnectionStrings:flashdb"] = connectionString;
        factory.Settings["Flash:Generation:AsyncDelayMilliseconds"] = asyncDelayMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return factory;
    }

    [Fact]
    public async Task Replicas_starting_together_on_an_empty_database_both_come_up_healthy()
    {
        var database = await LocalServers.CreateDatabaseAsync("flashdb");
        await using var first = Replica(database);
        await using var second = Replica(database);

        var clients = await Task.WhenAll(Task.Run(first.CreateClient), Task.Run(second.CreateClient));

        foreach (var client in clients)
        {
            using var health = await client.GetAsync("/health");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            client.Dispose();
        }
    }

    [Fact]
    public async Task Async_generation_left_processing_by_a_stopped_replica_is_completed_by_the_next_one()
    {
        var database = await LocalServers.CreateDatabaseAsync("flashdb");
        var user = Guid.NewGuid();
        string id;
        await using (var stopping = Replica(database, asyncDelayMilliseconds: 60_000))
        {
            using var client = stopping.CreateClient();
            using var accepted = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate")
            {
                Content = JsonContent.Create(FlashApp.Generate("The launch of Sputnik")),
            }.Signed(stopping.GatewaySecret, user, charge: GatewayRequests.Charge()));
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            id = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        }

        await using var next = Replica(database, asyncDelayMilliseconds: 0);
        using var nextClient = next.CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            using var read = await nextClient.SendAsync(
                new HttpRequestMessage(HttpMethod.Get, $"/api/v1/timepoints/{id}").Signed(next.GatewaySecret, user));
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            if ((await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString() == "completed")
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "the unfinished generation was not picked up");
            await Task.Delay(100);
        }
    }
}
