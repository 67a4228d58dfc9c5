using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Hosting;

namespace Timepoint.Pro.Stub.Tests;

public sealed class SimulateTests(ProApp app) : IClassFixture<ProApp>
{
    private static Dictionary<string, object?> Body(string template = "board_meeting", string prompt = "Should we acquire our largest competitor?",
        string? mode = "pearl", object? fidelity = null) =>
        new() { ["template"] = template, ["prompt"] = prompt, ["mode"] = mode, ["fidelity"] = fidelity ?? 3 };

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        return problem;
    }

    [Fact]
    public async Task Simulate_returns_a_completed_job_with_a_result()
    {
        using var response = await app.SendAsync(HttpMethod.Post, "/api/v1/simulate", Guid.NewGuid(), Body(fidelity: 4));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var job = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(Guid.TryParse(job.GetProperty("job_id").GetString(), out _));
        Assert.Equal("completed", job.GetProperty("status").GetString());
        Assert.Equal("board_meeting", job.GetProperty("template").GetString());
        Assert.Equal("pearl", job.GetProperty("mode").GetString());
        Assert.Equal(4, job.GetProperty("fidelity").GetInt32());
        var result = job.GetProperty("result");
        Assert.False(string.IsNullOrEmpty(result.GetProperty("summary").GetString()));
        Assert.Equal(6, result.GetProperty("entities").GetArrayLength());
        Assert.Equal(12, result.GetProperty("timeline").GetArrayLength());
        Assert.True(result.GetProperty("metrics").TryGetProperty("consensus", out _));
        Assert.True(result.GetProperty("tokens_used").GetInt32() > 0);
    }

    [Fact]
    public async Task Same_request_gives_the_same_result_under_a_new_job_id()
    {
        using var first = await app.SendAsync(HttpMethod.Post, "/api/v1/simulate", Guid.NewGuid(), Body(mode: "branching", fidelity: 5));
        using var second = await app.SendAsync(HttpMethod.Post, "/api/v1/simulate", Guid.NewGuid(), Body(mode: "branching", fidelity: 5));
        using var other = await app.SendAsync(HttpMethod.Post, "/api/v1/simulate", Guid.NewGuid(), Body(prompt: "Should we sell the company?", mode: "branching", fidelity: 5));

        var a = await first.Content.ReadFromJsonAsync<JsonElement>();
        var b = await second.Content.ReadFromJsonAsync<JsonElement>();
        var c = await other.Content.ReadFromJsonAsync<JsonElement>();
        Assert.NotEqual(a.GetProperty("job_id").GetString(), b.GetProperty("job_id").GetString());
        Assert.Equal(a.GetProperty("result").GetRawText(), b.GetProperty("result").GetRawText());
        Assert.NotEqual(a.GetProperty("result").GetRawText(), c.GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task Mode_and_fidelity_have_defaults()
    {
        using var response = await app.SendAsync(HttpMethod.Post, "/api/v1/simulate", Guid.NewGuid(),
            new Dictionary<string, object?> { ["template"] = "negotiation", ["prompt"] = "Split the harbour fees" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var job = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("pearl", job.GetProperty("mode").GetString());
        Assert.Equal(3, job.GetProperty("fidelity").GetInt32());
    }

    public static TheoryData<string, Dictionary<string, object?>> InvalidRequests() => new()
    {
        { "fidelity", Body(fidelity: 0) },
        { "fidelity", Body(fidelity: 6) },
        { "fidelity", Body(fidelity: 2.5) },
        { "fidelity", Body(fidelity: "3") },
        { "prompt", Body(prompt: "") },
        { "prompt", Body(prompt: "   ") },
        { "prompt", Body(prompt: new string('p', 4001)) },
        { "template", Body(template: "tea_party") },
        { "mode", Body(mode: "sideways") },
    };

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public async Task Invalid_requests_are_422_naming_the_field(string field, Dictionary<string, object?> body)
    {
        using var response = await app.SendAsync(HttpMethod.Post, "/api/v1/simulate", Guid.NewGuid(), body);

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task Missing_template_is_422()
    {
        using var response = await app.SendAsync(HttpMethod.Post, "/api/v1/simulate", Guid.NewGuid(),
            new Dictionary<string, object?> { ["prompt"] = "Anything" });

        await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
    }

    [Fact]
    public async Task Simulate_needs_a_gateway_user()
    {
        using var anonymous = await app.SendAsync(HttpMethod.Post, "/api/v1/simulate", null, Body());
        var forged = new HttpRequestMessage(HttpMethod.Post, "/api/v1/simulate") { Content = JsonContent.Create(Body()) };
        forged.Headers.Add(GatewayHeaders.UserId, Guid.NewGuid().ToString());
        using var unsigned = await app.Client.SendAsync(forged);
        var stale = new HttpRequestMessage(HttpMethod.Post, "/api/v1/simulate") { Content = JsonContent.Create(Body()) }
            .Signed(app.Factory.GatewaySecret, Guid.NewGuid(), at: DateTimeOffset.UtcNow.AddMinutes(-10));
        using var tooOld = await app.Client.SendAsync(stale);

        await AssertProblemAsync(anonymous, HttpStatusCode.Unauthorized, "auth.missing");
        await AssertProblemAsync(unsigned, HttpStatusCode.Forbidden, "auth.forbidden");
        await AssertProblemAsync(tooOld, HttpStatusCode.Forbidden, "auth.forbidden");
    }

    [Fact]
    public async Task Owner_reads_the_job_back_and_others_cannot()
    {
        var owner = Guid.NewGuid();
        using var created = await app.SendAsync(HttpMethod.Post, "/api/v1/simulate", owner, Body(template: "crisis_response", mode: "portal"));
        var job = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = job.GetProperty("job_id").GetString();

        using var byOwner = await app.SendAsync(HttpMethod.Get, $"/api/v1/simulations/{id}", owner);
        using var byOther = await app.SendAsync(HttpMethod.Get, $"/api/v1/simulations/{id}", Guid.NewGuid());

        Assert.Equal(HttpStatusCode.OK, byOwner.StatusCode);
        Assert.Equal(job.GetRawText(), (await byOwner.Content.ReadFromJsonAsync<JsonElement>()).GetRawText());
        await AssertProblemAsync(byOther, HttpStatusCode.NotFound, "not_found");
    }
}
