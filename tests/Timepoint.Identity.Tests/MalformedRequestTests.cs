using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Timepoint.Identity.Tests;

/// <summary>Requests the edge's seeded fuzzer (Security.Tests) found answered with a 500 or outside problem+json.</summary>
public sealed class MalformedRequestTests(IdentityFactory factory) : IClassFixture<IdentityFactory>
{
    [Fact]
    public async Task A_json_null_body_on_a_patch_is_a_422_problem_not_a_500()
    {
        using var client = factory.CreateClient();
        var pair = await factory.DevTokenAsync(client);
        var user = Guid.Parse(new JsonWebToken(pair.AccessToken).Subject);

        using var me = new HttpRequestMessage(HttpMethod.Patch, "/api/v1/users/me") { Content = Json("null") }.Signed(factory.GatewaySecret, user);
        using var admin = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/users/admin/{user}") { Content = Json("null") };
        admin.Headers.Add("X-Admin-Key", factory.AdminKey);
        using var meResponse = await client.SendAsync(me);
        using var adminResponse = await client.SendAsync(admin);

        // As any other body that is not an object ("The body must be a JSON object.").
        await AssertProblemAsync(meResponse, HttpStatusCode.UnprocessableEntity);
        await AssertProblemAsync(adminResponse, HttpStatusCode.UnprocessableEntity);
    }

    [Theory]
    [InlineData("/connect/token")]
    [InlineData("/connect/revoke")]
    [InlineData("/api/v1/auth/refresh")]
    public async Task A_multipart_body_that_cannot_be_read_is_a_400_problem_not_a_500(string path)
    {
        using var client = factory.CreateClient();
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"query\":\"not multipart at all\"}"));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=x");

        using var response = await client.PostAsync(path, content);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("POST", "/api/v1/auth/apple/", "{\"identity_token\":\"x\"}", HttpStatusCode.ServiceUnavailable)] // not configured here
    [InlineData("POST", "/API/V1/AUTH/REFRESH/", "{\"refresh_token\":\"x\"}", HttpStatusCode.Unauthorized)]
    [InlineData("GET", "/api/v1/auth/github/callback/?code=x&state=y", null, HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/api/v1/auth/google", "{}", HttpStatusCode.MethodNotAllowed)]
    [InlineData("POST", "/api/v1/auth/apple/callback", null, HttpStatusCode.MethodNotAllowed)]
    public async Task A_sign_in_route_with_a_trailing_slash_or_another_method_answers_problem_json(string method, string path, string? json,
        HttpStatusCode status)
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = json is null ? null : Json(json) };

        using var response = await client.SendAsync(request);

        await AssertProblemAsync(response, status);
    }

    [Theory]
    [InlineData("application/xml")]
    [InlineData("text/html")]
    public async Task An_error_is_problem_json_whatever_the_client_accepts(string accept)
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/no/such/route");
        request.Headers.TryAddWithoutValidation("Accept", accept);

        using var response = await client.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.NotFound);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode} {body}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{response.Content.Headers.ContentType} {body}");
        Assert.False(string.IsNullOrEmpty(JsonDocument.Parse(body).RootElement.GetProperty("code").GetString()));
    }
}
