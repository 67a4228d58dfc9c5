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
    public void Cors_wildcards_match_subdomains_only(string origin, bool allowed) =>
        Assert.Equal(allowed, CorsOrigins.Allows(["https://*.timepointai.com", "https://timepointai.com"], origin));

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
    [Fact]
    public void The_openapi_document_lists_every_routed_path_with_its_security()
    {
        var document = EdgeOpenApi.Build();
        var paths = document["paths"]!.AsObject();

        Assert.Equal("3.1.0", (string?)document["openapi"]);
        Assert.True(paths.ContainsKey("/api/v1/auth/apple"));
        Assert.True(paths.ContainsKey("/api/v1/auth/refresh"));
        Assert.True(paths.ContainsKey("/api/v1/credits/balance"));
        Assert.True(paths.ContainsKey("/api/v1/clockchain/{rest}"));
        Assert.True(paths.ContainsKey("/api/v1/conductor/pro/simulate"));
        Assert.Empty(paths["/api/v1/credits/costs"]!["get"]!["security"]!.AsArray());
        Assert.Equal(2, paths["/api/v1/credits/balance"]!["get"]!["security"]!.AsArray().Count);
        Assert.DoesNotContain(paths, p => p.Key.Contains("regex", StringComparison.Ordinal) || p.Key.Contains("**", StringComparison.Ordinal));
    }
}
