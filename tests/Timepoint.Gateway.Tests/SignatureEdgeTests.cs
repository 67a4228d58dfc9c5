using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// The edge's side of the gateway signature v2: what it forwards is signed as a whole (method, path and query, request
/// id, nonce, timestamp, client address, caller, and a metered call's reservation and price), read back from the echo
/// backend the way a backend reads it. The backends' refusals are Pro.Stub's GatewaySignatureTests.
/// </summary>
public sealed class SignatureEdgeTests : EdgeHarness
{
    private static readonly Guid Reservation = Guid.NewGuid();
    private readonly ReservingCredits credits = new();

    protected override Task StartStandInsAsync() => credits.StartAsync();

    protected override void Configure(Dictionary<string, string?> settings) =>
        settings["Downstream:credits:BaseAddress"] = credits.Address.ToString();

    [Fact]
    public async Task A_metered_call_reaches_the_backend_with_its_reservation_and_price_signed_with_the_path_and_query()
    {
        var user = Guid.NewGuid();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync?trace=1&x=%20y")
        {
            Content = new StringContent("""{"query":"The fall of Constantinople, 1453"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", identity.Token(user, session: "session-7"));

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echoed = await response.Content.ReadFromJsonAsync<JsonElement>();
        var forward = EchoBackend.Forward(echoed);
        Assert.Equal(("POST", "/api/v1/timepoints/generate/sync?trace=1&x=%20y"), (forward.Method, forward.PathAndQuery));
        Assert.Equal((user.ToString(), "jwt", "", "session-7"), (forward.UserId, forward.AuthMethod, forward.ApiKeyId, forward.SessionId));
        Assert.Equal((Reservation.ToString(), "7"), (forward.ReservationId, forward.Price));
        Assert.Equal(response.Headers.GetValues("X-Request-ID").Single(), forward.RequestId);
        Assert.Equal(32, forward.Nonce.Length);
        Assert.True(EchoBackend.SignedAs(echoed, forward, gateway.GatewaySecret));
        Assert.False(echoed.GetProperty("headers").TryGetProperty("x-gateway-metered", out _));
        foreach (var altered in new[] { forward with { Price = "0" }, forward with { ReservationId = Guid.NewGuid().ToString() },
            forward with { PathAndQuery = "/api/v1/timepoints/generate/sync?trace=2&x=%20y" } })
        {
            Assert.False(EchoBackend.SignedAs(echoed, altered, gateway.GatewaySecret));
        }
    }

    [Fact]
    public async Task An_api_key_caller_is_forwarded_with_its_key_id_and_each_forward_gets_its_own_nonce()
    {
        var (key, user) = KnownApiKey("read");
        using var first = await SendWithApiKeyAsync(key);
        using var second = await SendWithApiKeyAsync(key);

        var a = await first.Content.ReadFromJsonAsync<JsonElement>();
        var b = await second.Content.ReadFromJsonAsync<JsonElement>();
        var (fa, fb) = (EchoBackend.Forward(a), EchoBackend.Forward(b));
        Assert.Equal((user.ToString(), "api_key"), (fa.UserId, fa.AuthMethod));
        Assert.True(Guid.TryParse(fa.ApiKeyId, out _));
        Assert.Equal(("", ""), (fa.ReservationId, fa.Price));
        Assert.NotEqual(fa.Nonce, fb.Nonce);
        Assert.True(EchoBackend.SignedAs(a, fa, gateway.GatewaySecret));
        Assert.True(EchoBackend.SignedAs(b, fb, gateway.GatewaySecret));
    }

    [Fact]
    public async Task An_anonymous_request_is_signed_too_with_no_caller()
    {
        using var response = await client.GetAsync("/api/v1/clockchain/stats?since=1969");

        var echoed = await response.Content.ReadFromJsonAsync<JsonElement>();
        var forward = EchoBackend.Forward(echoed);
        Assert.Equal(("GET", "/api/v1/stats?since=1969", "", ""), (forward.Method, forward.PathAndQuery, forward.UserId, forward.AuthMethod));
        Assert.True(EchoBackend.SignedAs(echoed, forward, gateway.GatewaySecret));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await credits.DisposeAsync();
    }

    /// <summary>Credits that reserves 7 credits under one known reservation id and settles it.</summary>
    private sealed class ReservingCredits : StandIn
    {
        protected override void Map(WebApplication app)
        {
            app.MapPost("/internal/credits/reserve", () => Results.Json(new Dictionary<string, object>
            {
                ["reservation_id"] = Reservation, ["operation"] = "generate_balanced", ["charged"] = 7,
                ["balance_after"] = 43, ["status"] = "reserved", ["replayed"] = false,
            }));
            app.MapPost("/internal/credits/reservations/settle", () => Results.Json(new
            {
                reservations = new[] { new { reservation_id = Reservation, status = "settled" } },
            }));
        }
    }
}
