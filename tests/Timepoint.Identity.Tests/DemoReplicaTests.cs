using System.Net;

namespace Timepoint.Identity.Tests;

/// <summary>Two identity replicas on one database and one Redis, as behind a load balancer.</summary>
public sealed class DemoReplicaTests(IdentityFactory factory) : IClassFixture<IdentityFactory>, IAsyncLifetime
{
    private IdentityFactory second = null!;

    public Task InitializeAsync()
    {
        second = factory.Replica();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await second.DisposeAsync();

    [Fact]
    public async Task Demo_sign_ins_spread_over_two_replicas_admit_no_more_than_the_limit_a_minute()
    {
        using var one = factory.CreateClient();
        using var two = second.CreateClient();
        var address = $"198.18.{Random.Shared.Next(0, 256)}.{Random.Shared.Next(1, 255)}";

        // 30 sign-ins from one address, alternating between the replicas: the limit (10 a minute) holds for the two together.
        var statuses = new List<HttpStatusCode>();
        var startMinute = DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60;
        for (var i = 0; i < 30; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/demo");
            request.FromClient(factory.GatewaySecret, address); // signed as the edge signs it, or identity counts the connection
            using var response = await (i % 2 == 0 ? one : two).SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        var minutes = DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60 - startMinute + 1;
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, s.ToString()));
        var admitted = statuses.Count(s => s == HttpStatusCode.OK);
        // Each replica alone would admit 10 (20 in all). If a minute turned during the run, the next one admits 10 more.
        Assert.InRange(admitted, 10, 10 * minutes);
    }
}
