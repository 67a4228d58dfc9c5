using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Timepoint.Soak;

namespace Timepoint.Security.Tests;

/// <summary>Header tricks against the real edge: spoofed identity, forwarded addresses, other services' keys, smuggling, sizes.</summary>
public sealed partial class SecurityTests
{
    public static TheoryData<string> SpoofedIdentities => new()
    {
        "X-User-ID", "x-user-id", "X-USER-ID", "X_User_ID", "x_user_id", "X-UserId", "X-Api-Key-Id", "X-Auth-Method",
        "X-Gateway-Signature", "X-Gateway-Timestamp",
    };

    [Theory]
    [MemberData(nameof(SpoofedIdentities))]
    public async Task A_spoofed_identity_header_never_changes_who_the_backend_sees(string header)
    {
        var user = await platform.NewUserAsync();
        var victim = await platform.NewUserAsync();

        using var me = Platform.As(user, HttpMethod.Get, "/api/v1/auth/me");
        me.Headers.TryAddWithoutValidation(header, [victim.Id.ToString(), $"{victim.Id}, {victim.Id}"]);
        using var meResponse = await platform.Gateway.SendAsync(me);
        // Without credentials, the header alone must not make a user: 401, not the victim's balance.
        using var anonymous = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        anonymous.Headers.TryAddWithoutValidation(header, victim.Id.ToString());
        using var anonymousResponse = await platform.Gateway.SendAsync(anonymous);
        // A public route: clockchain refuses an unsigned identity with 403, so a leaked header would show.
        using var stats = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats");
        stats.Headers.TryAddWithoutValidation(header, victim.Id.ToString());
        using var statsResponse = await platform.Gateway.SendAsync(stats);

        Assert.Equal(HttpStatusCode.OK, meResponse.StatusCode);
        Assert.Equal(user.Id, (await meResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        await Edge.AssertUnauthorizedAsync(anonymousResponse, "auth.missing");
        Assert.Equal(HttpStatusCode.OK, statsResponse.StatusCode);
    }

    [Theory]
    [InlineData("x-user-id")]
    [InlineData("x_user_id")]
    public async Task Cleartext_http2_is_refused_so_no_identity_header_can_ride_it(string header)
    {
        // HTTP/2 with prior knowledge (h2c), as a gRPC-style client would send it: the edge speaks HTTP/1.1 only on its
        // cleartext endpoint and answers HTTP_1_1_REQUIRED before reading any header. (HTTP/2 over TLS needs a TLS
        // endpoint, which the local AppHost does not have; header hygiene itself does not depend on the protocol.)
        var user = await platform.NewUserAsync();
        using var request = Platform.As(user, HttpMethod.Get, "/api/v1/auth/me");
        request.Headers.TryAddWithoutValidation(header, Guid.NewGuid().ToString());
        request.Version = HttpVersion.Version20;
        request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;

        // No answer at all: a GOAWAY with HTTP_1_1_REQUIRED, or (racing it) the connection closed under the client.
        await Assert.ThrowsAsync<HttpRequestException>(() => platform.Gateway.SendAsync(request));
    }

    [Fact]
    public async Task X_Forwarded_For_does_not_move_the_rate_limit_key()
    {
        // Anonymous calls are limited per connection address; a client that could pick its address would get a fresh budget each time.
        var seen = new List<(long Reset, int Remaining)>();
        for (var i = 0; i < 6; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/costs");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", $"203.0.113.{i + 1}");
            request.Headers.TryAddWithoutValidation("X-Real-IP", $"198.51.100.{i + 1}");
            request.Headers.TryAddWithoutValidation("Forwarded", $"for=192.0.2.{i + 1}");
            using var response = await platform.Gateway.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            seen.Add((long.Parse(response.Headers.GetValues("X-RateLimit-Reset").Single()), int.Parse(response.Headers.GetValues("X-RateLimit-Remaining").Single())));
        }

        // Within one window the remaining budget only goes down (other tests may spend it too, never give it back).
        foreach (var window in seen.GroupBy(s => s.Reset).Where(g => g.Count() > 1))
        {
            var remaining = window.Select(s => s.Remaining).ToList();
            Assert.True(remaining.Zip(remaining.Skip(1)).All(p => p.Second < p.First), $"remaining went {string.Join(", ", remaining)}");
        }
    }

    [Fact]
    public async Task Another_services_key_does_not_open_a_route_that_declares_a_different_one()
    {
        var identityServiceKey = await platform.ParameterAsync("identity-service-key");
        var identityAdminKey = await platform.ParameterAsync("identity-admin-key");

        // An admin route with the service key, and a service route with the admin key: the edge forwards only the declared one.
        using var devToken = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/dev/token")
        {
            Content = JsonContent.Create(new { email = $"sec-{Guid.NewGuid():N}@example.test", display_name = "x" }),
        };
        devToken.Headers.Add("X-Service-Key", identityServiceKey);
        using var resolve = new HttpRequestMessage(HttpMethod.Post, "/api/v1/users/resolve")
        {
            Content = JsonContent.Create(new { provider = "github", external_id = Guid.NewGuid().ToString() }),
        };
        resolve.Headers.Add("X-Admin-Key", identityAdminKey);

        using var devTokenResponse = await platform.Gateway.SendAsync(devToken);
        using var resolveResponse = await platform.Gateway.SendAsync(resolve);

        Assert.Contains(devTokenResponse.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden });
        Assert.Contains(resolveResponse.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden });
    }

    public static TheoryData<string, string> Smuggling => new()
    {
        { "CL+TE", "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n" },
        { "TE+CL", "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n" },
        { "duplicate CL", "Content-Length: 5\r\nContent-Length: 60\r\n" },
        { "CL list", "Content-Length: 5, 60\r\n" },
        { "TE twice", "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n" },
        { "TE not last chunked", "Transfer-Encoding: chunked, identity\r\n" },
        { "TE xchunked", "Transfer-Encoding: xchunked\r\n" },
        { "TE space before colon", "Transfer-Encoding : chunked\r\n" },
        { "TE tab", "Transfer-Encoding:\tchunked\r\nContent-Length: 4\r\n" },
        { "TE line folding", "Transfer-Encoding:\r\n chunked\r\n" },
        { "TE on HTTP/1.0", "HTTP/1.0|Transfer-Encoding: chunked\r\n" },
    };

    /// <summary>
    /// A request whose framing two parsers could read differently, followed by a second ("smuggled") request in the same
    /// bytes. The edge must either refuse the first (400) or read it one way and close; the smuggled request must never
    /// be answered as a request of its own.
    /// </summary>
    [Theory]
    [MemberData(nameof(Smuggling))]
    public async Task Request_smuggling_attempts_never_get_the_smuggled_request_answered(string _, string framing)
    {
        var version = framing.StartsWith("HTTP/1.0|", StringComparison.Ordinal) ? "HTTP/1.0" : "HTTP/1.1";
        framing = framing.Replace("HTTP/1.0|", "", StringComparison.Ordinal);
        const string smuggled = "GET /api/v1/clockchain/stats?smuggled=1 HTTP/1.1\r\nHost: localhost\r\nX-Smuggled: yes\r\n\r\n";
        var raw = $"POST /api/v1/clockchain/moments {version}\r\nHost: localhost\r\n{framing}\r\n0\r\n\r\n{smuggled}";

        var answer = await RawAsync(raw);

        var statuses = StatusLine().Matches(answer).Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.True(statuses.Count <= 1, $"{statuses.Count} responses on one connection: {string.Join(", ", statuses)}\n{answer}");
        Assert.DoesNotContain("total_nodes", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_headers_are_431()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats");
        request.Headers.TryAddWithoutValidation("X-Padding", new string('a', 40 * 1024));

        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Too_many_headers_are_431()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats");
        // 80: over the edge's 64, under Kestrel's default of 100, so the edge's own limit is what answers.
        for (var i = 0; i < 80; i++)
        {
            request.Headers.TryAddWithoutValidation($"X-Many-{i}", "x");
        }

        using var response = await platform.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
    }

    [Theory]
    [InlineData("PATCH", "/api/v1/users/me", 10 * 1024 * 1024 + 1)]
    [InlineData("POST", "/api/v1/timepoints/generate/sync", 1024 * 1024 + 1)]
    public async Task An_oversized_body_is_413_and_charges_nothing(string method, string path, int length)
    {
        var user = await platform.NewUserAsync();
        var body = new byte[length];
        Array.Fill(body, (byte)' ');

        var answer = await RawAsync($"{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {user.AccessToken}\r\n" +
            $"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n", body);

        Assert.StartsWith("HTTP/1.1 413", answer, StringComparison.Ordinal);
        Assert.Equal(50, await Platform.BalanceAsync(platform.Gateway, user));
    }

    private async Task<string> RawAsync(string request, byte[]? body = null)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(platform.GatewayAddress.Host, platform.GatewayAddress.Port);
        var stream = socket.GetStream();
        // Read while writing: the edge may answer before the body is all sent and then close with the rest unread, which
        // resets the connection, and an answer still unread here when the reset arrives is lost.
        var answer = ReadAnswerAsync(stream);
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
            for (var sent = 0; body is not null && sent < body.Length; sent += 64 * 1024)
            {
                await stream.WriteAsync(body.AsMemory(sent, Math.Min(64 * 1024, body.Length - sent)));
            }
        }
        catch (IOException)
        {
            // The edge answered early and closed: its answer is being read.
        }

        return await answer;
    }

    private static async Task<string> ReadAnswerAsync(NetworkStream stream)
    {
        var received = new MemoryStream();
        var buffer = new byte[8192];
        // Read until the edge closes, or is silent for 2 s once it has answered (a kept-alive connection waiting for more);
        // the first answer may take longer on a loaded machine.
        while (true)
        {
            using var idle = new CancellationTokenSource(TimeSpan.FromSeconds(received.Length == 0 ? 15 : 2));
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, idle.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                break;
            }

            if (read == 0)
            {
                break;
            }

            received.Write(buffer, 0, read);
        }

        return Encoding.ASCII.GetString(received.ToArray());
    }

    [GeneratedRegex(@"HTTP/1\.[01] (\d{3})")]
    private static partial Regex StatusLine();
}
