using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// The edge's request log as an operator reads it: every record a proxied request writes carries its request id and
/// route, and once a caller is known its auth method, user and key id (never a credential); each request ends with one
/// line that says how it was answered.
/// </summary>
public sealed class EdgeRequestLogTests : EdgeHarness
{
    private WebApplicationFactory<Program> logged = null!;
    private HttpClient loggedClient = null!;

    private FakeLogCollector Collector => logged.Services.GetFakeLogCollector();

    private async Task<(HttpResponseMessage Response, FakeLogRecord Line, Dictionary<string, object?> Attributes)> SendAsync(HttpRequestMessage request)
    {
        if (loggedClient is null)
        {
            logged = gateway.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddFakeLogging()));
            loggedClient = logged.CreateClient();
        }

        var response = await loggedClient.SendAsync(request);
        var requestId = response.Headers.GetValues("X-Request-ID").Single();
        FakeLogRecord? line = null;
        for (var i = 0; i < 50 && line is null; i++)
        {
            // The line is written after the response has started; give it a moment.
            line = Collector.GetSnapshot().LastOrDefault(r => r.Category == typeof(Proxy.EdgeRequestLog).FullName
                && Attributes(r).TryGetValue("RequestId", out var id) && (string?)id == requestId);
            if (line is null)
            {
                await Task.Delay(20);
            }
        }

        Assert.NotNull(line);
        return (response, line, Attributes(line));
    }

    // Later scopes and the record's own state win, as in an exporter that flattens them.
    private static Dictionary<string, object?> Attributes(FakeLogRecord record)
    {
        var attributes = new Dictionary<string, object?>();
        foreach (var scope in record.Scopes.OfType<IEnumerable<KeyValuePair<string, object?>>>())
        {
            foreach (var (key, value) in scope)
            {
                attributes[key] = value;
            }
        }

        foreach (var (key, value) in record.StructuredState ?? [])
        {
            attributes[key] = value;
        }

        return attributes;
    }

    [Fact]
    public async Task A_request_with_a_token_ends_with_one_line_naming_the_caller_and_never_the_token()
    {
        var user = Guid.NewGuid();
        var token = identity.Token(user);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("X-Request-ID", "log-test-1");

        var (response, line, attributes) = await SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(LogLevel.Information, line.Level);
        Assert.StartsWith("Answered GET credits-read with 200 in ", line.Message, StringComparison.Ordinal);
        Assert.Equal("log-test-1", attributes["RequestId"]);
        Assert.Equal("credits-read", attributes["Route"]);
        Assert.Equal("jwt", attributes["AuthMethod"]);
        Assert.Equal(user.ToString(), attributes["UserId"]);
        Assert.Null(attributes["ApiKeyId"]);
        Assert.Single(Collector.GetSnapshot(), r => (string?)Attributes(r).GetValueOrDefault("RequestId") == "log-test-1"
            && r.Category == typeof(Proxy.EdgeRequestLog).FullName);
        Assert.DoesNotContain(Collector.GetSnapshot(), r => r.Message.Contains(token, StringComparison.Ordinal)
            || Attributes(r).Values.Any(v => v?.ToString()?.Contains(token.Split('.')[2], StringComparison.Ordinal) == true));
        response.Dispose();
    }

    [Fact]
    public async Task A_refused_request_ends_with_one_line_naming_the_refusal_and_no_caller()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");

        var (response, line, attributes) = await SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Refused GET credits-read with 401 auth.missing in ", line.Message, StringComparison.Ordinal);
        Assert.Equal("credits-read", attributes["Route"]);
        Assert.Equal("none", attributes["AuthMethod"]);
        Assert.Null(attributes["UserId"]);
        response.Dispose();
    }

    public override async Task DisposeAsync()
    {
        loggedClient?.Dispose();
        if (logged is not null)
        {
            await logged.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
