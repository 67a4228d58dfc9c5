using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Timepoint.Gateway;
using Timepoint.Gateway.Auth;
using Timepoint.Gateway.Proxy;
using Timepoint.Gateway.Routing;

namespace Timepoint.Gateway.Tests;

public sealed class EdgePiecesTests
{
    [Theory]
    [InlineData("X-User-ID")]
    [InlineData("x-user-id")]
    [InlineData("X_User_ID")]
    [InlineData("X-USER_id")]
    [InlineData("X-UserId")]
    [InlineData("X-Auth-Method")]
    [InlineData("x_auth_anything")]
    [InlineData("X-Gateway-Signature")]
    [InlineData("X-Gateway-Metered")]
    [InlineData("X-Api-Key-Id")]
    [InlineData("X-Forwarded-For")]
    [InlineData("Forwarded")]
    [InlineData("X-Real-IP")]
    public void Trust_headers_are_recognised_in_any_spelling(string name) => Assert.True(HeaderHygiene.IsTrustHeader(name));

    [Theory]
    [InlineData("Authorization")]
    [InlineData("X-API-Key")]
    [InlineData("X-Request-ID")]
    [InlineData("Idempotency-Key")]
    [InlineData("X-User")]
    public void Ordinary_headers_are_left_alone(string name) => Assert.False(HeaderHygiene.IsTrustHeader(name));

    [Fact]
    public void Credentials_are_read_from_bearer_or_api_key_and_two_are_ambiguous()
    {
        var key = ApiKeyFormat.Generate();

        Assert.Equal(CredentialKind.None, Read().Kind);
        Assert.Equal(new Credential(CredentialKind.Jwt, "abc.def.ghi"), Read(("Authorization", "Bearer abc.def.ghi")));
        Assert.Equal(new Credential(CredentialKind.ApiKey, key), Read(("Authorization", "Bearer " + key)));
        Assert.Equal(new Credential(CredentialKind.ApiKey, key), Read(("X-API-Key", key)));
        Assert.Equal(CredentialKind.Ambiguous, Read(("Authorization", "Bearer abc.def.ghi"), ("X-API-Key", key)).Kind);
        Assert.Equal(CredentialKind.Malformed, Read(("Authorization", "Basic dXNlcjpwYXNz")).Kind);
    }

    [Fact]
    public void Api_keys_carry_a_checksum_that_catches_a_typo()
    {
        var key = ApiKeyFormat.Generate();
        var typo = key[..10] + (key[10] == 'a' ? 'b' : 'a') + key[11..];

        Assert.True(ApiKeyFormat.IsWellFormed(key));
        Assert.False(ApiKeyFormat.IsWellFormed(typo));
        Assert.False(ApiKeyFormat.IsWellFormed(key[..^1]));
        Assert.NotEqual(ApiKeyFormat.Generate(), ApiKeyFormat.Generate());
    }

    [Theory]
    [InlineData("https://app.timepointai.com", true)]
    [InlineData("https://a.b.timepointai.com", true)]
    [InlineData("https://timepointai.com", true)]
    [InlineData("http://app.timepointai.com", false)]
    [InlineData("https://eviltimepointai.com", false)]
    [InlineData("https://timepointai.com.evil.test", false)]
    [InlineData("null", false)]
    [InlineData("https://app.timepointai.com:8443", false)]
    [InlineData("https://timepointai.com:8443", false)]
    [InlineData("https://app.timepointai.com/path", false)]
    public void Cors_wildcards_match_subdomains_only(string origin, bool allowed) =>
        Assert.Equal(allowed, CorsOrigins.Allows(["https://*.timepointai.com", "https://timepointai.com"], origin));

    [Theory]
    [InlineData("https://app.timepointai.com:8443", true)]
    [InlineData("https://app.timepointai.com", false)]
    [InlineData("https://app.timepointai.com:9443", false)]
    [InlineData("http://app.timepointai.com:8443", false)]
    public void A_cors_wildcard_allows_only_the_port_it_names_or_the_schemes_default(string origin, bool allowed) =>
        Assert.Equal(allowed, CorsOrigins.Allows(["https://*.timepointai.com:8443"], origin));

    [Fact]
    public void Every_route_names_a_known_cluster_and_metered_routes_need_a_user()
    {
        Assert.All(EdgeRoutes.All, r => Assert.Contains(r.Cluster, EdgeRoutes.Clusters));
        Assert.All(EdgeRoutes.All.Where(r => r.Metered is not null), r => Assert.Equal(Access.User, r.Access));
        Assert.Equal(EdgeRoutes.All.Count, EdgeRoutes.All.Select(r => r.Id).Distinct().Count());
    }

    private static Credential Read(params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }

        return Credentials.Read(context.Request);
    }

    [Theory]
    [InlineData("http://edge.test/", "http://edge.test/.well-known/jwks", "/.well-known/jwks")]
    [InlineData("https://api.example.test/edge/", "https://api.example.test/edge/.well-known/jwks", "/.well-known/jwks")]
    [InlineData("https://api.example.test/", "https://keys.example.test/jwks?v=2", "/jwks?v=2")]
    public void The_edge_reads_the_jwks_from_identity_at_its_place_below_the_public_issuer(string issuer, string jwksUri, string path) =>
        Assert.Equal(path, IdentityKeys.InternalPath(new Uri(issuer), new Uri(jwksUri)));
}

public sealed class OpenApiTests
{
    private static JsonObject Backend(string path, string method, JsonObject operation) =>
        new() { ["paths"] = new JsonObject { [path] = new JsonObject { [method] = operation } } };

    private static JsonObject Answer(string schema) => new()
    {
        ["responses"] = new JsonObject
        {
            ["200"] = new JsonObject
            {
                ["description"] = "OK",
                ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = $"#/components/schemas/{schema}" } } },
            },
        },
    };

    [Fact]
    public void Backend_operations_appear_under_the_paths_clients_call_with_what_the_edge_adds()
    {
        var clockchain = Backend("/api/v1/stats/", "get", Answer("GraphStats"));
        clockchain["components"] = new JsonObject { ["schemas"] = new JsonObject { ["GraphStats"] = new JsonObject { ["type"] = "object" } } };
        clockchain["paths"]!["/internal/users/{userId}"] = new JsonObject { ["delete"] = Answer("GraphStats") };
        var flash = Backend("/api/v1/timepoints/generate/sync", "post", Answer("TimepointDocument"));
        flash["paths"]!["/api/v1/timepoints/"] = new JsonObject { ["get"] = Answer("TimepointPage") };
        var pro = Backend("/api/v1/simulate", "post", Answer("Simulation"));
        pro["paths"]!["/api/v1/simulations/{jobId}"] = new JsonObject { ["get"] = Answer("Simulation") };
        var identity = Backend("/api/v1/auth/api-keys/{id}/reroll", "post", Answer("RerolledApiKey"));

        var document = EdgeOpenApi.Merge(new Dictionary<string, JsonObject>
        {
            ["clockchain"] = clockchain, ["flash"] = flash, ["pro"] = pro, ["identity"] = identity,
        });
        var paths = document["paths"]!.AsObject();

        Assert.Equal(["/api/v1/auth/api-keys/{id}/reroll", "/api/v1/clockchain/stats", "/api/v1/conductor/pro/simulate",
            "/api/v1/timepoints", "/api/v1/timepoints/generate/sync", "/health"], paths.Select(p => p.Key));
        Assert.Empty(paths["/api/v1/clockchain/stats"]!["get"]!["security"]!.AsArray());
        Assert.Null(paths["/api/v1/clockchain/stats"]!["get"]!["responses"]!["401"]);
        var sync = paths["/api/v1/timepoints/generate/sync"]!["post"]!;
        Assert.Equal(2, sync["security"]!.AsArray().Count);
        Assert.NotNull(sync["responses"]!["402"]);
        Assert.NotNull(sync["responses"]!["200"]!["headers"]!["X-Balance-After"]);
        Assert.Contains(sync["parameters"]!.AsArray(), p => (string?)p!["name"] == "Idempotency-Key");
        var reroll = paths["/api/v1/auth/api-keys/{id}/reroll"]!["post"]!;
        Assert.Equal([ServiceOpenApi.Bearer], reroll["security"]!.AsArray().Select(r => r!.AsObject().Single().Key));
        Assert.Null(paths["/api/v1/timepoints"]!["get"]!["responses"]!["413"]);
        Assert.NotNull(document["components"]!["schemas"]!["GraphStats"]);
    }

    [Fact]
    public void A_schema_name_two_services_use_differently_is_renamed_after_its_service()
    {
        JsonObject WithSchema(JsonObject backend, string name, string type)
        {
            backend["components"] = new JsonObject { ["schemas"] = new JsonObject { [name] = new JsonObject { ["type"] = type } } };
            return backend;
        }

        var document = EdgeOpenApi.Merge(new Dictionary<string, JsonObject>
        {
            ["identity"] = WithSchema(Backend("/api/v1/auth/me", "get", Answer("UserExport")), "UserExport", "object"),
            ["flash"] = WithSchema(Backend("/api/v1/timepoints/{id}", "get", Answer("UserExport")), "UserExport", "array"),
        });

        Assert.Equal("#/components/schemas/FlashUserExport",
            (string?)document["paths"]!["/api/v1/timepoints/{id}"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]);
        Assert.Equal("array", (string?)document["components"]!["schemas"]!["FlashUserExport"]!["type"]);
        Assert.Equal("object", (string?)document["components"]!["schemas"]!["UserExport"]!["type"]);
    }
}
