using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// The client address at the edge behind a trusted proxy (10.0.0.9): the anonymous budget, the address the backend is
/// told (signed) and the request log all name the client the proxy saw; nobody else's X-Forwarded-For is read. The
/// in-memory server has no connection address, so a test-only step in front of the edge sets it from X-Test-Connection.
/// </summary>
public sealed class ClientAddressEdgeTests : EdgeHarness
{
    private const string Proxy = "10.0.0.9";
    private const string Route = "/api/v1/clockchain/stats";

    private WebApplicationFactory<Program> edge = null!;
    private HttpClient edgeClient = null!;

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Gateway:TrustedProxies:0"] = Proxy;
        // The budgets counted here are per client address (each test's own), at the production default.
        settings["Gateway:RateLimits:AnonymousPerMinute"] = "60";
    }

    private HttpClient Edge
    {
        get
        {
            if (edgeClient is null)
            {
                edge = gateway.WithWebHostBuilder(b => b.ConfigureServices(s =>
                {
                    s.AddFakeLogging();
                    s.AddSingleton<IStartupFilter, ConnectionFromHeader>();
                }));
                edgeClient = edge.CreateClient();
            }

            return edgeClient;
        }
    }

    // Addresses of this run only, so budgets other runs spent in the same minute do not show.
    private static string NewIpv4() => $"198.18.{Random.Shared.Next(0, 256)}.{Random.Shared.Next(1, 255)}";

    private async Task<Answer> GetAsync(string connection, params string[] forwardedFor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Route);
        request.Headers.Add(ConnectionFromHeader.Header, connection);
        foreach (var value in forwardedFor)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", value);
        }

        using var response = await Edge.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = await response.Content.ReadFromJsonAsync<JsonElement>();
        var headers = echo.GetProperty("headers");
        return new Answer(echo.GetProperty("path").GetString()!,
            int.Parse(response.Headers.GetValues("X-RateLimit-Remaining").Single()),
            long.Parse(response.Headers.GetValues("X-RateLimit-Reset").Single()),
            headers.GetProperty("x-forwarded-for").EnumerateArray().Select(v => v.GetString()!).ToArray(),
            echo,
            response.Headers.GetValues("X-Request-ID").Single());
    }

    /// <summary>Runs <paramref name="test"/> again (once) when a new rate-limit minute began in the middle of it.</summary>
    private static async Task InOneWindowAsync(Func<Task<IEnumerable<Answer>>> test)
    {
        for (var attempt = 0; ; attempt++)
        {
            var answers = (await test()).ToList();
            if (answers.Select(a => a.Reset).Distinct().Count() == 1 || attempt == 1)
            {
                return;
            }
        }
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_each_client_has_its_own_budget_and_the_backend_is_told_that_client_signed()
    {
        await InOneWindowAsync(async () =>
        {
            var (a, b) = (NewIpv4(), NewIpv4());

            // Each client sent an X-Forwarded-For of its own; the proxy appended the address it saw.
            var a1 = await GetAsync(Proxy, $"203.0.113.1, {a}");
            var a2 = await GetAsync(Proxy, $"203.0.113.2, {a}");
            var b1 = await GetAsync(Proxy, $"{a}, {b}");

            if (new[] { a1, a2, b1 }.Select(x => x.Reset).Distinct().Count() == 1)
            {
                Assert.Equal(59, a1.Remaining);
                Assert.Equal(58, a2.Remaining);
                Assert.Equal(59, b1.Remaining);
            }

            Assert.Equal(new[] { a }, a1.ForwardedFor);
            Assert.Equal(new[] { b }, b1.ForwardedFor);
            var forward = EchoBackend.Forward(a1.Echo);
            Assert.Equal(a, forward.ClientAddress);
            Assert.True(EchoBackend.SignedAs(a1.Echo, forward, gateway.GatewaySecret));
            Assert.False(EchoBackend.SignedAs(a1.Echo, forward with { ClientAddress = b }, gateway.GatewaySecret));
            return [a1, a2, b1];
        });
    }

    [Fact]
    public async Task A_forwarded_for_from_a_connection_that_is_not_a_trusted_proxy_is_not_believed()
    {
        await InOneWindowAsync(async () =>
        {
            var connection = NewIpv4();

            var first = await GetAsync(connection, NewIpv4());
            var second = await GetAsync(connection, $"{NewIpv4()}, {Proxy}");

            if (first.Reset == second.Reset)
            {
                Assert.Equal(59, first.Remaining);
                Assert.Equal(58, second.Remaining);
            }

            Assert.Equal(new[] { connection }, first.ForwardedFor);
            Assert.Equal(new[] { connection }, second.ForwardedFor);
            return [first, second];
        });
    }

    [Fact]
    public async Task Ipv6_clients_behind_the_proxy_share_a_budget_per_64()
    {
        await InOneWindowAsync(async () =>
        {
            var prefix = $"2001:db8:{Random.Shared.Next(1, 0xffff):x}";

            var one = await GetAsync(Proxy, $"{prefix}:1::1");
            var sameSixtyFour = await GetAsync(Proxy, $"[{prefix}:1:abcd::2]:443");
            var otherSixtyFour = await GetAsync(Proxy, $"{prefix}:2::1");

            if (new[] { one, sameSixtyFour, otherSixtyFour }.Select(x => x.Reset).Distinct().Count() == 1)
            {
                Assert.Equal(59, one.Remaining);
                Assert.Equal(58, sameSixtyFour.Remaining);
                Assert.Equal(59, otherSixtyFour.Remaining);
            }

            // The backend is told the address itself; only the limits group by /64.
            Assert.Equal(new[] { $"{prefix}:1:abcd::2" }, sameSixtyFour.ForwardedFor);
            return [one, sameSixtyFour, otherSixtyFour];
        });
    }

    [Fact]
    public async Task The_request_log_names_the_client_address_next_to_the_request_id()
    {
        var client = NewIpv4();

        var answer = await GetAsync(Proxy, client);

        FakeLogRecord? line = null;
        for (var i = 0; i < 50 && line is null; i++)
        {
            line = edge.Services.GetFakeLogCollector().GetSnapshot().LastOrDefault(r =>
                r.Category == typeof(Proxy.EdgeRequestLog).FullName && Scope(r).GetValueOrDefault("RequestId") as string == answer.RequestId);
            if (line is null)
            {
                await Task.Delay(20);
            }
        }

        Assert.NotNull(line);
        Assert.Equal(client, Scope(line).GetValueOrDefault("ClientAddress"));
    }

    [Fact]
    public void A_trusted_proxy_that_is_not_an_address_or_network_stops_the_edge_at_start()
    {
        using var broken = gateway.WithWebHostBuilder(b => b.UseSetting("Gateway:TrustedProxies:1", "10.0.0.0/99"));

        var error = Assert.ThrowsAny<Exception>(() => broken.CreateClient());

        Assert.Contains("Gateway:TrustedProxies: '10.0.0.0/99'", error.ToString());
    }

    private static Dictionary<string, object?> Scope(FakeLogRecord record) =>
        record.Scopes.OfType<IEnumerable<KeyValuePair<string, object?>>>().SelectMany(s => s).GroupBy(p => p.Key)
            .ToDictionary(g => g.Key, g => g.Last().Value);

    public override async Task DisposeAsync()
    {
        edgeClient?.Dispose();
        if (edge is not null)
        {
            await edge.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    private sealed record Answer(string BackendPath, int Remaining, long Reset, string[] ForwardedFor, JsonElement Echo, string RequestId);

    /// <summary>Stands in for the connection's address, which the in-memory server does not have.</summary>
    private sealed class ConnectionFromHeader : IStartupFilter
    {
        public const string Header = "X-Test-Connection";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextStep) =>
            {
                if (IPAddress.TryParse(context.Request.Headers[Header], out var address))
                {
                    context.Connection.RemoteIpAddress = address;
                }

                return nextStep(context);
            });
            next(app);
        };
    }
}
