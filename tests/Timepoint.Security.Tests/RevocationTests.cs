using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Timepoint.Soak;

namespace Timepoint.Security.Tests;

/// <summary>
/// Issue #18: a revoked session's access tokens refused at every gateway replica within seconds (each replica asked
/// directly, behind DCP's proxy), through a Redis restart (a replica started after a revocation: Gateway.Tests
/// RevocationStartTests). Order 15: after the soak, before the faults
/// that leave a replica and identity killed.
/// </summary>
public sealed partial class SecurityTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(5);

    [Fact]
    [Order(15)]
    public async Task Logout_on_one_replica_is_refused_on_every_replica_within_5_s_and_another_session_keeps_working()
    {
        var replicas = await ReplicaClientsAsync();
        var phone = await platform.NewUserAsync();
        var laptop = await SignInAsync(await EmailOfAsync(phone));
        Assert.All(await StatusOnEveryReplicaAsync(replicas, phone), s => Assert.Equal(HttpStatusCode.OK, s)); // remembered as valid

        using (var logout = await replicas[0].SendAsync(Platform.As(phone, HttpMethod.Post, "/api/v1/auth/logout")))
        {
            Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        }

        var took = await RefusedEverywhereAsync(replicas, phone, "auth.token_revoked");
        output.WriteLine($"logout refused on {replicas.Count} replicas after {took.TotalMilliseconds:0} ms");
        Assert.All(await StatusOnEveryReplicaAsync(replicas, laptop), s => Assert.Equal(HttpStatusCode.OK, s));
    }

    [Fact]
    [Order(15)]
    public async Task Revoke_all_disable_and_delete_end_every_token_of_the_user_and_disable_its_keys_within_5_s()
    {
        var replicas = await ReplicaClientsAsync();
        var adminKey = await platform.ParameterAsync("identity-admin-key");
        var revoked = await platform.NewUserAsync();
        var disabled = await platform.NewUserAsync();
        var deleted = await platform.NewUserAsync();
        var emails = new Dictionary<User, string>();
        var sessions = new Dictionary<User, User[]>();
        foreach (var user in new[] { revoked, disabled, deleted })
        {
            emails[user] = await EmailOfAsync(user);
            sessions[user] = [user, await SignInAsync(emails[user])];
        }

        var (_, disabledKey) = await CreateKeyAsync(disabled, "read");
        Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(disabledKey)); // the verdict is cached at the edge now

        using var identity = platform.App.CreateHttpClient("identity");
        using (var revokeAll = new HttpRequestMessage(HttpMethod.Post, $"/internal/identity/admin/users/{revoked.Id}/sessions/revoke"))
        {
            revokeAll.Headers.Add("X-Admin-Key", adminKey);
            using var answer = await identity.SendAsync(revokeAll);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        using (var disable = await AdminPatchAsync(disabled.Id, new { disabled = true }, adminKey))
        {
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
            Assert.True((await disable.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("disabled").GetBoolean());
        }

        using (var delete = await platform.Gateway.SendAsync(Platform.As(deleted, HttpMethod.Delete, "/api/v1/auth/me")))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        foreach (var session in sessions.Values.SelectMany(s => s))
        {
            await RefusedEverywhereAsync(replicas, session, "auth.token_revoked");
        }

        var keyRefusedBy = Stopwatch.StartNew();
        while (await StatusWithKeyAsync(disabledKey) != HttpStatusCode.Unauthorized)
        {
            Assert.True(keyRefusedBy.Elapsed < Within, "the disabled user's API key still works");
            await Task.Delay(100);
        }

        // No new token for the disabled user until enabled; afterwards a new session works, the old ones stay ended.
        using var refresh = await platform.Gateway.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = disabled.RefreshToken });
        await Edge.AssertUnauthorizedAsync(refresh, "auth.token_revoked", "auth.jwt_invalid");
        (await AdminPatchAsync(disabled.Id, new { disabled = false }, adminKey)).Dispose();
        var afterEnable = await SignInAsync(emails[disabled]);
        var afterRevokeAll = await SignInAsync(emails[revoked]);
        Assert.All(await StatusOnEveryReplicaAsync(replicas, afterEnable), s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.All(await StatusOnEveryReplicaAsync(replicas, afterRevokeAll), s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.All(await StatusOnEveryReplicaAsync(replicas, disabled), s => Assert.Equal(HttpStatusCode.Unauthorized, s));
    }

    [Fact]
    [Order(16)]
    public async Task A_revoked_session_stays_refused_through_a_Redis_restart()
    {
        var user = await platform.NewUserAsync();
        var other = await SignInAsync(await EmailOfAsync(user));
        using (var logout = await platform.Gateway.SendAsync(Platform.As(user, HttpMethod.Post, "/api/v1/auth/logout")))
        {
            Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        }

        await RefusedEverywhereAsync(await ReplicaClientsAsync(), user, "auth.token_revoked");

        // Redis restarted (an empty one: the local Redis keeps no data across restarts): nothing of revocation lives there.
        await platform.ExecuteAsync("redis", Aspire.Hosting.ApplicationModel.KnownResourceCommands.StopCommand);
        await platform.ExecuteAsync("redis", Aspire.Hosting.ApplicationModel.KnownResourceCommands.StartCommand);
        await platform.App.ResourceNotifications.WaitForResourceHealthyAsync("redis");
        await RefusedEverywhereAsync(await ReplicaClientsAsync(), user, "auth.token_revoked");

        Assert.All(await StatusOnEveryReplicaAsync(await ReplicaClientsAsync(), other), s => Assert.Equal(HttpStatusCode.OK, s));
    }

    /// <summary>A client for each running gateway replica's own address (DCP's proxy would pick one for us).</summary>
    private async Task<List<HttpClient>> ReplicaClientsAsync()
    {
        var instances = await platform.InstancesAsync("gateway");
        Assert.Equal(2, instances.Count);
        return [.. instances.Select(i => SecurityFixture.ListeningAddress(i.Pid)).Select(address =>
        {
            Assert.NotNull(address);
            return new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(20) };
        })];
    }

    private async Task<string> EmailOfAsync(User user)
    {
        using var me = await platform.Gateway.SendAsync(Platform.As(user, HttpMethod.Get, "/api/v1/auth/me"));
        return (await me.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("email").GetString()!;
    }

    /// <summary>A session of the user with this email: a sign-in, with tokens of its own.</summary>
    private async Task<User> SignInAsync(string email) =>
        await Platform.NewUserAsync(platform.Gateway, await platform.ParameterAsync("identity-admin-key"), email);

    private static async Task<List<HttpStatusCode>> StatusOnEveryReplicaAsync(List<HttpClient> replicas, User user)
    {
        List<HttpStatusCode> statuses = [];
        foreach (var replica in replicas)
        {
            using var response = await replica.SendAsync(Platform.As(user, HttpMethod.Get, "/api/v1/credits/balance"));
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    /// <summary>Waits until every replica refuses the token with <paramref name="code"/>; fails past <see cref="Within"/>.</summary>
    private static async Task<TimeSpan> RefusedEverywhereAsync(List<HttpClient> replicas, User user, string code)
    {
        var clock = Stopwatch.StartNew();
        foreach (var replica in replicas)
        {
            while (true)
            {
                using var response = await replica.SendAsync(Platform.As(user, HttpMethod.Get, "/api/v1/credits/balance"));
                if (response.StatusCode == HttpStatusCode.Unauthorized)
                {
                    Assert.Equal(code, await Edge.CodeAsync(response));
                    break;
                }

                Assert.True(clock.Elapsed < Within, $"{replica.BaseAddress} still answers {(int)response.StatusCode} after {clock.Elapsed}");
                await Task.Delay(100);
            }
        }

        return clock.Elapsed;
    }

    private Task<HttpResponseMessage> AdminPatchAsync(Guid user, object body, string adminKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/users/admin/{user}") { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Admin-Key", adminKey);
        return platform.Gateway.SendAsync(request);
    }
}
