using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Timepoint.Gateway.Auth;

namespace Timepoint.Gateway.Tests;

/// <summary>Access tokens of revoked sessions, refused at the edge from identity's revoked-session list.</summary>
public sealed class RevocationEdgeTests : EdgeHarness
{
    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Gateway:Revocations:PollInterval"] = "00:00:00.200";
    }

    [Fact]
    public async Task A_token_of_a_revoked_session_is_refused_within_seconds_and_another_session_of_the_user_keeps_working()
    {
        var user = Guid.NewGuid();
        var (phone, laptop) = (Guid.NewGuid().ToString(), Guid.NewGuid().ToString());
        var phoneToken = identity.Token(user, session: phone);
        var laptopToken = identity.Token(user, session: laptop);
        using (var before = await ReadAsync(phoneToken))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode); // remembered as valid from here on
        }

        identity.RevokedSessions[phone] = DateTimeOffset.UtcNow.AddMinutes(16);

        var refused = await EventuallyAsync(phoneToken, HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(5));
        Assert.Equal("auth.token_revoked", refused.GetProperty("code").GetString());
        using var other = await ReadAsync(laptopToken);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        // A token of a session identity has never heard of, and one without any session, are not affected.
        using var fresh = await ReadAsync(identity.Token(user, session: Guid.NewGuid().ToString()));
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task A_replica_started_after_the_revocation_refuses_the_token_from_its_first_request()
    {
        var user = Guid.NewGuid();
        var (revoked, other) = (Guid.NewGuid().ToString(), Guid.NewGuid().ToString());
        identity.RevokedSessions[revoked] = DateTimeOffset.UtcNow.AddMinutes(16);
        await using var restarted = new ServiceFactory<Program>();
        foreach (var (key, value) in gateway.Settings)
        {
            restarted.Settings[key] = value;
        }

        using var fresh = restarted.CreateClient();
        using var first = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        first.Headers.Authorization = new AuthenticationHeaderValue("Bearer", identity.Token(user, session: revoked));
        using var refused = await fresh.SendAsync(first);
        using var second = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        second.Headers.Authorization = new AuthenticationHeaderValue("Bearer", identity.Token(user, session: other));
        using var accepted = await fresh.SendAsync(second);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("auth.token_revoked", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    [Fact]
    public async Task Revoked_sessions_are_dropped_once_their_tokens_have_expired()
    {
        var list = gateway.Services.GetRequiredService<SessionRevocationList>();
        var sessions = Enumerable.Range(0, 50).Select(_ => Guid.NewGuid().ToString()).ToList();
        foreach (var session in sessions)
        {
            identity.RevokedSessions[session] = DateTimeOffset.UtcNow.AddSeconds(2);
        }

        await WaitAsync(() => sessions.All(list.IsRevoked), TimeSpan.FromSeconds(5), "the revocations to be read");
        foreach (var session in sessions)
        {
            identity.RevokedSessions.TryRemove(session, out _); // as identity's sweeper deletes them
        }

        await WaitAsync(() => !sessions.Any(list.IsRevoked), TimeSpan.FromSeconds(10), "the expired revocations to be dropped");
        Assert.DoesNotContain(sessions, list.IsRevoked);
    }

    [Fact]
    public async Task A_session_revoked_while_identity_is_unreachable_stays_revoked_and_the_edge_says_it_is_stale()
    {
        var user = Guid.NewGuid();
        var session = Guid.NewGuid().ToString();
        identity.RevokedSessions[session] = DateTimeOffset.UtcNow.AddMinutes(16);
        await EventuallyAsync(identity.Token(user, session: session), HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(5));

        identity.RevocationsDown = true;
        try
        {
            var reads = identity.RevocationReads;
            await WaitAsync(() => identity.RevocationReads > reads + 2, TimeSpan.FromSeconds(5), "failed reads");
            using var still = await ReadAsync(identity.Token(user, session: session));
            using var other = await ReadAsync(identity.Token(user, session: Guid.NewGuid().ToString()));
            Assert.Equal(HttpStatusCode.Unauthorized, still.StatusCode);
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }
        finally
        {
            identity.RevocationsDown = false;
        }
    }

    private async Task<HttpResponseMessage> ReadAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.SendAsync(request);
    }

    private async Task<JsonElement> EventuallyAsync(string token, HttpStatusCode status, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            using var response = await ReadAsync(token);
            if (response.StatusCode == status)
            {
                return await response.Content.ReadFromJsonAsync<JsonElement>();
            }

            Assert.True(DateTime.UtcNow < deadline, $"still {response.StatusCode} after {within}");
            await Task.Delay(50);
        }
    }

    internal static async Task WaitAsync(Func<bool> condition, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited {within} for {what}");
            await Task.Delay(50);
        }
    }
}

/// <summary>A replica that has never read the revoked-session list must not accept access tokens.</summary>
public sealed class RevocationStartTests : EdgeHarness
{
    protected override Task StartStandInsAsync()
    {
        identity.RevocationsDown = true;
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Until_the_revoked_sessions_are_read_access_tokens_are_refused_with_503_and_the_edge_is_unhealthy()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", identity.Token(Guid.NewGuid(), session: Guid.NewGuid().ToString()));
        using var refused = await client.SendAsync(request);
        using var health = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);

        identity.RevocationsDown = false;
        var list = gateway.Services.GetRequiredService<SessionRevocationList>();
        await RevocationEdgeTests.WaitAsync(() => list.Loaded, TimeSpan.FromSeconds(5), "the list to be read");
        using var again = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        again.Headers.Authorization = new AuthenticationHeaderValue("Bearer", identity.Token(Guid.NewGuid(), session: Guid.NewGuid().ToString()));
        using var accepted = await client.SendAsync(again);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }
}
