using System.Net;
using System.Text.Json.Nodes;

namespace Timepoint.EndToEnd.Tests;

/// <summary>The edge's one document: valid by a linter nobody here wrote, and complete for the routes clients reach.</summary>
[Collection(PlatformCollection.Name)]
public sealed class OpenApiDocumentTests(PlatformFixture platform)
{
    [Fact]
    public async Task The_served_document_passes_redocly_lint_with_no_error()
    {
        var (passed, output) = await OpenApiChecks.LintAsync(platform.DocumentPath);

        Assert.True(passed, output);
    }

    [Fact]
    public async Task The_document_names_every_route_by_its_real_path_with_typed_answers_and_no_internal_route()
    {
        var document = JsonNode.Parse(await File.ReadAllTextAsync(platform.DocumentPath))!;
        var paths = document["paths"]!.AsObject();

        Assert.DoesNotContain(paths, p => p.Key.StartsWith("/internal", StringComparison.Ordinal));
        Assert.DoesNotContain(paths, p => p.Key.Contains("{rest}", StringComparison.Ordinal) || p.Key.Contains("**", StringComparison.Ordinal));
        string[] expected =
        [
            "/api/v1/auth/demo", "/api/v1/auth/refresh", "/api/v1/auth/apple", "/api/v1/auth/google", "/api/v1/auth/github",
            "/api/v1/auth/{provider}/authorize", "/api/v1/auth/{provider}/callback", "/api/v1/auth/logout", "/api/v1/auth/me",
            "/api/v1/auth/dev/token", "/api/v1/auth/service-token", "/api/v1/auth/api-keys", "/api/v1/auth/api-keys/{id}",
            "/api/v1/auth/api-keys/{id}/reroll", "/api/v1/users/me", "/api/v1/users/me/export", "/api/v1/users/me/timepoints",
            "/api/v1/users/resolve", "/api/v1/users/admin", "/api/v1/users/admin/{userId}", "/.well-known/openid-configuration",
            "/.well-known/jwks", "/connect/token", "/connect/authorize", "/connect/revoke", "/api/v1/credits/costs",
            "/api/v1/credits/balance", "/api/v1/credits/history", "/api/v1/credits/usage", "/api/v1/auth/api-keys/{id}/usage", "/api/v1/credits/admin/grant", "/api/v1/timepoints/generate/sync",
            "/api/v1/timepoints/generate", "/api/v1/timepoints/generate/stream", "/api/v1/timepoints", "/api/v1/timepoints/{id}",
            "/api/v1/clockchain/stats", "/api/v1/clockchain/moments", "/api/v1/conductor/pro/simulate", "/health",
        ];
        var missing = expected.Where(p => !paths.ContainsKey(p)).ToArray();
        Assert.True(missing.Length == 0, "Not in the document: " + string.Join(", ", missing));

        var sync = paths["/api/v1/timepoints/generate/sync"]!["post"]!;
        Assert.Equal("#/components/schemas/GenerateRequest", (string?)sync["requestBody"]!["content"]!["application/json"]!["schema"]!["$ref"]);
        // Only what a client must send is required (a generated client demanded every optional field before).
        var schemas = document["components"]!["schemas"]!;
        Assert.Equal(["query"], schemas["GenerateRequest"]!["required"]!.AsArray().Select(r => (string?)r));
        Assert.Equal(["template", "prompt"], schemas["SimulateRequest"]!["required"]!.AsArray().Select(r => (string?)r));
        Assert.NotNull(sync["responses"]!["200"]!["headers"]!["X-Credits-Charged"]);
        Assert.NotNull(sync["responses"]!["402"]);
        Assert.Contains(sync["parameters"]!.AsArray(), p => (string?)p!["name"] == "Idempotency-Key");
        Assert.NotNull(sync["responses"]!["429"]!["headers"]!["Retry-After"]);
        Assert.NotNull(paths["/api/v1/timepoints/generate/stream"]!["post"]!["responses"]!["200"]!["content"]!["text/event-stream"]);
        Assert.Empty(paths["/api/v1/credits/costs"]!["get"]!["security"]!.AsArray());
        Assert.Equal("#/components/schemas/BalanceResponse",
            (string?)paths["/api/v1/credits/balance"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]);
        Assert.Contains("code", document["components"]!["schemas"]!["ProblemDetails"]!["required"]!.AsArray().Select(c => (string?)c));
        Assert.Equal(false, (bool?)document["components"]!["schemas"]!["ProfileChangeBody"]!["additionalProperties"]);
    }

    [Fact]
    public async Task Scalar_shows_the_document_in_development()
    {
        using var response = await platform.Gateway.GetAsync("/scalar/v1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("openapi/v1.json", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
