using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Timepoint.Identity.Data;
using Timepoint.Identity.Downstream;

namespace Timepoint.Identity.Tests;

/// <summary>
/// Identity whose credits is a small real server that refuses every signup bonus but those of the users a test accepts, with an outbox
/// that gives up after 3 quick attempts and calls a message stale after 2 s.
/// </summary>
public sealed class OutboxIdentityFactory : IdentityFactory
{
    private WebApplication? credits;

    /// <summary>Users whose account credits opens; every other is refused (503).</summary>
    public ConcurrentDictionary<Guid, bool> Accepted { get; } = new();

    /// <summary>Accounts credits was asked for, refused or not.</summary>
    public ConcurrentQueue<Guid> Asked { get; } = new();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        credits = builder.Build();
        credits.MapPost("/internal/credits/accounts", async (HttpRequest request) =>
        {
            var user = (await JsonDocument.ParseAsync(request.Body)).RootElement.GetProperty("user_id").GetGuid();
            Asked.Enqueue(user);
            return Accepted.ContainsKey(user) ? Results.Ok() : Results.StatusCode(503);
        });
        await credits.StartAsync();
        Settings["Downstream:credits:BaseAddress"] = credits.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Settings["Identity:Outbox:MaxAttempts"] = "3";
        Settings["Identity:Outbox:MaxBackoff"] = "00:00:00.050";
        Settings["Identity:Outbox:PollInterval"] = "00:00:00.100";
        Settings["Identity:Outbox:StaleAfter"] = "00:00:02";
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (credits is not null)
        {
            await credits.DisposeAsync();
        }
    }
}

public sealed class OutboxTests(OutboxIdentityFactory factory) : IClassFixture<OutboxIdentityFactory>
{
    [Fact]
    public async Task A_message_failing_as_often_as_the_cap_allows_is_a_dead_letter_and_is_not_tried_again()
    {
        using var client = factory.CreateClient();
        var user = await RefusedUserAsync(client);

        var message = await DeadLetterAsync(user);

        Assert.Equal(3, message.Attempts);
        Assert.Contains("503", message.LastError);
        // Each attempt is a few HTTP calls (the standard resilience handler retries within it); none after the last.
        var asked = factory.Asked.Count(u => u == user);
        await Task.Delay(1000); // ten poll intervals
        Assert.Equal(asked, factory.Asked.Count(u => u == user));
        Assert.Equal(3, (await factory.WithDbAsync(db => db.Outbox.AsNoTracking().SingleAsync(m => m.UserId == user))).Attempts);
        await DeliverAsync(client, user); // leaves the outbox as it found it, for the health test
    }

    [Fact]
    public async Task Retrying_dead_letters_delivers_them_once_the_other_service_answers()
    {
        using var client = factory.CreateClient();
        var user = await RefusedUserAsync(client);
        await DeadLetterAsync(user);
        var asked = factory.Asked.Count(u => u == user);
        factory.Accepted[user] = true;

        using var noKey = await client.PostAsync("/internal/identity/admin/outbox/retry", null);
        using var retry = await AdminAsync(client, HttpMethod.Post, "/internal/identity/admin/outbox/retry");

        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.True((await retry.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("retried").GetInt32() >= 1);
        await WaitUntilAsync(async () => !await factory.WithDbAsync(db => db.Outbox.AnyAsync(m => m.UserId == user)), "the bonus to be delivered");
        Assert.Equal(asked + 1, factory.Asked.Count(u => u == user));
    }

    [Fact]
    public async Task Health_is_degraded_while_a_message_is_older_than_the_threshold_and_the_backlog_is_measured()
    {
        using var client = factory.CreateClient();
        var meters = factory.Services.GetRequiredService<IMeterFactory>();
        var backlog = new ConcurrentDictionary<string, int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Only this host's meter: other test classes run their own identity at the same time.
            if (instrument.Meter.Name == OutboxMonitor.MeterName && ReferenceEquals(instrument.Meter.Scope, meters))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "timepoint.identity.outbox.backlog")
            {
                backlog[(string)tags[0].Value!] = value;
            }
        });
        listener.Start();
        var user = await RefusedUserAsync(client);
        await DeadLetterAsync(user);

        await WaitUntilAsync(async () => await HealthAsync(client) == "degraded", "identity's health to be degraded");
        listener.RecordObservableInstruments();
        Assert.True(backlog.GetValueOrDefault("dead") >= 1, $"backlog gauge: {string.Join(", ", backlog)}");
        using var status = await AdminAsync(client, HttpMethod.Get, "/internal/identity/admin/outbox");
        var body = await status.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(body.GetProperty("dead_letters").EnumerateArray(), d => d.GetProperty("user_id").GetGuid() == user);

        await DeliverAsync(client, user);
        await WaitUntilAsync(async () => await HealthAsync(client) == "healthy", "identity's health to be healthy once the outbox is empty");
        listener.RecordObservableInstruments();
        Assert.Equal(0, backlog.GetValueOrDefault("dead"));
    }

    /// <summary>A new user whose signup bonus credits refuses (tests run one at a time and each leaves the outbox empty).</summary>
    private async Task<Guid> RefusedUserAsync(HttpClient client) =>
        Guid.Parse(new JsonWebToken((await factory.DevTokenAsync(client)).AccessToken).Subject);

    private async Task DeliverAsync(HttpClient client, Guid user)
    {
        factory.Accepted[user] = true;
        using var retry = await AdminAsync(client, HttpMethod.Post, "/internal/identity/admin/outbox/retry");
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        await WaitUntilAsync(async () => !await factory.WithDbAsync(db => db.Outbox.AnyAsync(m => m.UserId == user)), "the bonus to be delivered");
    }

    private async Task<OutboxMessage> DeadLetterAsync(Guid user)
    {
        OutboxMessage? message = null;
        await WaitUntilAsync(async () =>
        {
            message = await factory.WithDbAsync(db => db.Outbox.AsNoTracking().SingleOrDefaultAsync(m => m.UserId == user && m.Kind == Outbox.SignupBonus));
            return message?.DeadAt is not null;
        }, "the signup bonus to be a dead letter");
        return message!;
    }

    private Task<HttpResponseMessage> AdminAsync(HttpClient client, HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Admin-Key", factory.AdminKey);
        return client.SendAsync(request);
    }

    private static async Task<string?> HealthAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/health");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString();
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Waited 30 s for {what}.");
            await Task.Delay(100);
        }
    }
}
