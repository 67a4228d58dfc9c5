using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;

namespace Timepoint.Pro.Stub.Tests;

/// <summary>
/// The backends' side of the gateway signature v2 (ServiceDefaults <see cref="GatewayVerification"/>), on pro's metered
/// simulate: every field the edge vouches for is signed, none has a default, a state-changing request is accepted once,
/// v1 is refused, and the work is done only under the edge's reservation. Each refusal has its control: the same request
/// untouched is 200.
/// </summary>
public sealed class GatewaySignatureTests(ProApp app) : IClassFixture<ProApp>
{
    private const string Simulate = "/api/v1/simulate";

    private static readonly Dictionary<string, object?> Body = new() { ["template"] = "board_meeting", ["prompt"] = "Should we expand?" };

    /// <summary>A metered call with every field the edge can send.</summary>
    private static GatewayForward Everything(string pathAndQuery = Simulate + "?trace=1", string method = "POST") =>
        new(method, pathAndQuery, "req-" + Guid.NewGuid().ToString("N"), GatewayForward.NewNonce(), DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            "198.51.100.7", Guid.NewGuid().ToString(), "api_key", "key-0123", "session-42", Guid.NewGuid().ToString(), "50");

    private static HttpRequestMessage Request(GatewayForward forward, string secret, HttpMethod? method = null, string? uri = null)
    {
        method ??= new HttpMethod(forward.Method);
        return new HttpRequestMessage(method, uri ?? forward.PathAndQuery) { Content = method == HttpMethod.Post ? JsonContent.Create(Body) : null }
            .Sign(secret, forward);
    }

    private async Task<HttpStatusCode> SendAsync(HttpRequestMessage request, HttpClient? client = null)
    {
        using (request)
        {
            using var response = await (client ?? app.Client).SendAsync(request);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                await Problem.AssertAsync(response, response.StatusCode, response.StatusCode == HttpStatusCode.Forbidden ? "auth.forbidden" : "upstream_unavailable");
            }

            return response.StatusCode;
        }
    }

    [Fact]
    public async Task A_request_signed_over_every_field_is_accepted()
    {
        Assert.Equal(HttpStatusCode.OK, await SendAsync(Request(Everything(), app.Factory.GatewaySecret)));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(Request(Everything() with { AuthMethod = "jwt", ApiKeyId = "" }, app.Factory.GatewaySecret)));
    }

    [Theory]
    [InlineData(GatewayHeaders.RequestId, "req-other")]
    [InlineData(GatewayHeaders.Nonce, "0123456789abcdef0123456789abcdef")]
    [InlineData(GatewayHeaders.Timestamp, "-1")]
    [InlineData(GatewayHeaders.ForwardedFor, "203.0.113.66")]
    [InlineData(GatewayHeaders.UserId, "new")]
    [InlineData(GatewayHeaders.AuthMethod, "jwt")]
    [InlineData(GatewayHeaders.ApiKeyId, "key-other")]
    [InlineData(GatewayHeaders.SessionId, "session-other")]
    [InlineData(GatewayHeaders.ReservationId, "new")]
    [InlineData(GatewayHeaders.Price, "0")]
    [InlineData(GatewayHeaders.Signature, "v2=00")]
    public async Task Each_signed_field_altered_removed_or_repeated_is_403(string header, string altered)
    {
        foreach (var change in new[] { "altered", "removed", "repeated" })
        {
            var forward = Everything();
            var request = Request(forward, app.Factory.GatewaySecret);
            var original = request.Headers.GetValues(header).Single();
            request.Headers.Remove(header);
            var value = altered switch
            {
                "new" => Guid.NewGuid().ToString(),
                "-1" => (forward.Timestamp - 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => altered,
            };
            if (change == "altered")
            {
                request.Headers.TryAddWithoutValidation(header, value);
            }
            else if (change == "repeated")
            {
                request.Headers.TryAddWithoutValidation(header, [original, original]);
            }

            Assert.True(HttpStatusCode.Forbidden == await SendAsync(request), $"{header} {change} was accepted");
        }
    }

    [Theory]
    [InlineData(Simulate + "?trace=2")]
    [InlineData(Simulate + "?trace=1&admin=true")]
    [InlineData(Simulate)]
    [InlineData("/api/v1/simulate/?trace=1")]
    public async Task A_query_or_path_other_than_the_signed_one_is_403(string sent)
    {
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(Everything(), app.Factory.GatewaySecret, uri: sent)));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(Everything(Simulate), app.Factory.GatewaySecret, uri: sent == Simulate ? Simulate + "?x=1" : sent)));
    }

    [Fact]
    public async Task Another_method_than_the_signed_one_is_403()
    {
        var forward = Everything($"/api/v1/simulations/{Guid.NewGuid()}", "GET");
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(forward, app.Factory.GatewaySecret, HttpMethod.Head)));
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("admin", "")]
    [InlineData("api_key", "")]
    [InlineData("jwt", "key-0123")]
    public async Task No_default_for_the_auth_method_even_correctly_signed(string method, string keyId)
    {
        var forward = Everything() with { AuthMethod = method, ApiKeyId = keyId };
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(forward, app.Factory.GatewaySecret)));
    }

    [Theory]
    [InlineData("", "50")]
    [InlineData("not-a-guid", "50")]
    [InlineData("new", "")]
    [InlineData("new", "-5")]
    public async Task A_reservation_goes_with_its_price_even_correctly_signed(string reservation, string price)
    {
        var forward = Everything() with { ReservationId = reservation == "new" ? Guid.NewGuid().ToString() : reservation, Price = price };
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(forward, app.Factory.GatewaySecret)));
    }

    [Fact]
    public async Task A_signature_from_another_secret_or_outside_the_60_s_window_is_403()
    {
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(Everything(), new string('f', 64))));
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(Everything() with { Timestamp = now - 62 }, app.Factory.GatewaySecret)));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(Everything() with { Timestamp = now + 62 }, app.Factory.GatewaySecret)));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(Request(Everything() with { Timestamp = now - 50 }, app.Factory.GatewaySecret)));
    }

    [Fact]
    public async Task The_window_is_configurable()
    {
        using var wide = app.Factory.WithWebHostBuilder(builder => builder.UseSetting("GatewayTrust:MaxAgeSeconds", "300"));
        using var client = wide.CreateClient();
        var old = Everything() with { Timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 120 };

        Assert.Equal(HttpStatusCode.OK, await SendAsync(Request(old, app.Factory.GatewaySecret), client));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(old with { Nonce = GatewayForward.NewNonce() }, app.Factory.GatewaySecret)));
    }

    [Fact]
    public async Task A_replayed_state_changing_request_is_403_and_a_replayed_read_is_answered()
    {
        var forward = Everything();
        Assert.Equal(HttpStatusCode.OK, await SendAsync(Request(forward, app.Factory.GatewaySecret)));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(forward, app.Factory.GatewaySecret)));

        // The same request id with a fresh nonce is a new request (a client may reuse its X-Request-ID).
        Assert.Equal(HttpStatusCode.OK, await SendAsync(Request(forward with { Nonce = GatewayForward.NewNonce() }, app.Factory.GatewaySecret)));

        // Reads are not remembered: a replayed GET changes nothing.
        var read = Everything($"/api/v1/simulations/{Guid.NewGuid()}", "GET") with { ReservationId = "", Price = "" };
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, read.PathAndQuery).Sign(app.Factory.GatewaySecret, read);
            using var response = await app.Client.SendAsync(request);
            await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
        }
    }

    [Fact]
    public async Task At_the_replay_memory_cap_state_changing_requests_are_503_until_entries_expire_and_reads_still_work()
    {
        using var small = app.Factory.WithWebHostBuilder(builder => builder
            .UseSetting("GatewayTrust:ReplayCapacity", "3")
            .UseSetting("GatewayTrust:MaxAgeSeconds", "2"));
        using var client = small.CreateClient();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await SendAsync(Request(Everything(), app.Factory.GatewaySecret), client));
        }

        using (var full = Request(Everything(), app.Factory.GatewaySecret))
        {
            using var response = await client.SendAsync(full);
            await Problem.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
            Assert.NotNull(response.Headers.RetryAfter);
        }

        var read = Everything($"/api/v1/simulations/{Guid.NewGuid()}", "GET") with { ReservationId = "", Price = "" };
        using (var get = new HttpRequestMessage(HttpMethod.Get, read.PathAndQuery).Sign(app.Factory.GatewaySecret, read))
        {
            using var response = await client.SendAsync(get);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        // The remembered entries expire with their signatures (timestamp + 2 s): room again.
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(Request(Everything(), app.Factory.GatewaySecret), client));
    }

    [Fact]
    public async Task A_metered_route_does_no_work_without_the_edges_reservation()
    {
        var unmetered = Everything() with { ReservationId = "", Price = "" };
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Request(unmetered, app.Factory.GatewaySecret)));

        // v1's unsigned flag does not stand in for a reservation, signed or not.
        var flagged = Request(unmetered with { Nonce = GatewayForward.NewNonce() }, app.Factory.GatewaySecret);
        flagged.Headers.Add(GatewayHeaders.Metered, "true");
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(flagged));
    }

    [Theory]
    [InlineData(GatewayHeaders.ReservationId)]
    [InlineData(GatewayHeaders.Price)]
    [InlineData(GatewayHeaders.AuthMethod)]
    [InlineData(GatewayHeaders.SessionId)]
    [InlineData(GatewayHeaders.Nonce)]
    public async Task A_gateway_header_without_the_signature_is_403(string header)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/simulations/{Guid.NewGuid()}");
        request.Headers.TryAddWithoutValidation(header, "x");
        using var response = await app.Client.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "auth.forbidden");
    }

    [Fact]
    public async Task A_v1_signature_is_refused_and_accepted_only_while_the_transitional_switch_is_on()
    {
        HttpRequestMessage V1()
        {
            var user = Guid.NewGuid().ToString();
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var request = new HttpRequestMessage(HttpMethod.Post, Simulate) { Content = JsonContent.Create(Body) };
            request.Headers.Add(GatewayHeaders.UserId, user);
            request.Headers.Add(GatewayHeaders.AuthMethod, "jwt");
            request.Headers.Add(GatewayHeaders.Metered, "true");
            request.Headers.Add(GatewayHeaders.Timestamp, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add(GatewayHeaders.Signature, GatewayHeaders.SignV1(app.Factory.GatewaySecret, "POST", Simulate, user, timestamp));
            return request;
        }

        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(V1()));

        using var transitional = app.Factory.WithWebHostBuilder(builder => builder.UseSetting("GatewayTrust:AcceptV1", "true"));
        using var client = transitional.CreateClient();
        Assert.Equal(HttpStatusCode.OK, await SendAsync(V1(), client));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(Request(Everything(), app.Factory.GatewaySecret), client));
    }
}
