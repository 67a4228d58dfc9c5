using System.Net;
using Microsoft.Extensions.Hosting;

namespace Timepoint.Flash.Stub.Tests;

public sealed class TrustTests(FlashApp app) : IClassFixture<FlashApp>
{
    private const string SyncRoute = "/api/v1/timepoints/generate/sync";

    [Fact]
    public async Task Unsigned_user_id_is_refused_403()
    {
        var request = app.Request(HttpMethod.Post, SyncRoute, null, FlashApp.Generate("The Battle of Hastings"));
        request.Headers.Add(GatewayHeaders.UserId, Guid.NewGuid().ToString());

        using var response = await app.Client.SendAsync(request);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "auth.forbidden");
    }

    [Fact]
    public async Task User_id_signed_with_another_secret_is_refused_403()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, SyncRoute) { Content = System.Net.Http.Json.JsonContent.Create(FlashApp.Generate("The Battle of Hastings")) }
            .Signed(new string('f', 64), Guid.NewGuid());

        using var response = await app.Client.SendAsync(request);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "auth.forbidden");
    }

    [Fact]
    public async Task Signature_ten_minutes_old_is_refused_403()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/timepoints")
            .Signed(app.Factory.GatewaySecret, Guid.NewGuid(), at: DateTimeOffset.UtcNow.AddMinutes(-10));

        using var response = await app.Client.SendAsync(request);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "auth.forbidden");
    }

    [Fact]
    public async Task Signature_made_for_another_user_is_refused_403()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/timepoints").Signed(app.Factory.GatewaySecret, Guid.NewGuid());
        request.Headers.Remove(GatewayHeaders.UserId);
        request.Headers.Add(GatewayHeaders.UserId, Guid.NewGuid().ToString());

        using var response = await app.Client.SendAsync(request);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "auth.forbidden");
    }

    [Fact]
    public async Task Signature_made_for_another_path_is_refused_403()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/users/me/timepoints").Signed(app.Factory.GatewaySecret, Guid.NewGuid());
        request.RequestUri = new Uri("/api/v1/timepoints", UriKind.Relative);

        using var response = await app.Client.SendAsync(request);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "auth.forbidden");
    }

    [Theory]
    [InlineData(SyncRoute)]
    [InlineData("/api/v1/timepoints/generate")]
    [InlineData("/api/v1/timepoints/generate/stream")]
    public async Task Generation_signed_without_the_edges_reservation_is_403_and_stores_nothing(string route)
    {
        // Bound to the charge: a signed user alone does not buy a generation, only the reservation the edge signed with it.
        var user = Guid.NewGuid();
        var request = new HttpRequestMessage(HttpMethod.Post, route) { Content = System.Net.Http.Json.JsonContent.Create(FlashApp.Generate("The Battle of Hastings")) }
            .Signed(app.Factory.GatewaySecret, user);

        using var response = await app.Client.SendAsync(request);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "auth.forbidden");
        Assert.Equal(0, (await app.ListAsync(user)).GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("GET", "/api/v1/timepoints")]
    [InlineData("GET", "/api/v1/users/me/timepoints")]
    [InlineData("POST", SyncRoute)]
    [InlineData("POST", "/api/v1/timepoints/generate")]
    [InlineData("POST", "/api/v1/timepoints/generate/stream")]
    [InlineData("DELETE", "/api/v1/timepoints/3f1e5d8c-0000-4000-8000-000000000001")]
    public async Task Routes_without_any_identity_are_401(string method, string path)
    {
        using var response = await app.SendAsync(new HttpMethod(method), path, null,
            method == "POST" ? FlashApp.Generate("The Battle of Hastings") : null);

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "auth.missing");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }
}
