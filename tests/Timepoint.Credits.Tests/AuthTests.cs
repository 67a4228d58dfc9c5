using System.Net;

namespace Timepoint.Credits.Tests;

public sealed class AuthTests(CreditsApp app) : IClassFixture<CreditsApp>
{
    [Theory]
    [InlineData("/api/v1/credits/balance")]
    [InlineData("/api/v1/credits/history")]
    public async Task A_user_route_without_a_gateway_identity_is_a_401(string path)
    {
        using var response = await app.Client.GetAsync(path);

        await CreditsApp.Problem(response, HttpStatusCode.Unauthorized, "auth.missing");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task An_identity_signed_with_another_secret_is_refused()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance").Signed(new string('x', 64), Guid.NewGuid());

        using var response = await app.Client.SendAsync(request);

        await CreditsApp.Problem(response, HttpStatusCode.Forbidden, "auth.forbidden");
    }

    [Fact]
    public async Task An_unsigned_or_stale_or_swapped_identity_is_refused()
    {
        var user = Guid.NewGuid();
        var unsigned = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        unsigned.Headers.Add("X-User-ID", user.ToString());
        var stale = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance")
            .Signed(app.GatewaySecret, user, at: DateTimeOffset.UtcNow.AddMinutes(-10));
        var swapped = app.AsUser(HttpMethod.Get, "/api/v1/credits/balance", user);
        swapped.Headers.Remove("X-User-ID");
        swapped.Headers.Add("X-User-ID", Guid.NewGuid().ToString());

        foreach (var request in new[] { unsigned, stale, swapped })
        {
            using var response = await app.Client.SendAsync(request);
            await CreditsApp.Problem(response, HttpStatusCode.Forbidden, "auth.forbidden");
        }

        Assert.Null((await app.Facts(user)).Balance);
    }

    [Theory]
    [InlineData("POST", "/internal/credits/reserve")]
    [InlineData("POST", "/internal/credits/accounts")]
    [InlineData("POST", "/internal/credits/reservations/7d9f3c52-2c43-4a59-9b8c-3f1c8d2f0e11/settle")]
    [InlineData("POST", "/internal/credits/reservations/7d9f3c52-2c43-4a59-9b8c-3f1c8d2f0e11/refund")]
    [InlineData("DELETE", "/internal/credits/users/7d9f3c52-2c43-4a59-9b8c-3f1c8d2f0e11")]
    public async Task Internal_routes_need_this_services_key(string method, string path)
    {
        var body = new { user_id = Guid.NewGuid(), operation = "chat" };

        using var none = await app.Send(new HttpMethod(method), path, body, null, null);
        using var wrong = await app.Send(new HttpMethod(method), path, body, "X-Service-Key", "svc-" + new string('0', 64));
        using var adminKey = await app.Send(new HttpMethod(method), path, body, "X-Service-Key", app.AdminKey);
        using var signedUser = await app.Client.SendAsync(app.AsUser(new HttpMethod(method), path, body.user_id));

        await CreditsApp.Problem(none, HttpStatusCode.Unauthorized, "auth.missing");
        await CreditsApp.Problem(wrong, HttpStatusCode.Forbidden, "auth.forbidden");
        await CreditsApp.Problem(adminKey, HttpStatusCode.Forbidden, "auth.forbidden");
        await CreditsApp.Problem(signedUser, HttpStatusCode.Unauthorized, "auth.missing");
        Assert.Null((await app.Facts(body.user_id)).Balance);
    }

    [Fact]
    public async Task Admin_grant_needs_the_admin_key()
    {
        var user = Guid.NewGuid();
        var body = new { user_id = user, amount = 100 };

        using var none = await app.Send(HttpMethod.Post, "/api/v1/credits/admin/grant", body, null, null);
        using var wrong = await app.Send(HttpMethod.Post, "/api/v1/credits/admin/grant", body, "X-Admin-Key", "adm-" + new string('0', 64));
        using var serviceKey = await app.Send(HttpMethod.Post, "/api/v1/credits/admin/grant", body, "X-Admin-Key", app.ServiceKey);
        var asUser = app.AsUser(HttpMethod.Post, "/api/v1/credits/admin/grant", user);
        asUser.Content = System.Net.Http.Json.JsonContent.Create(body);
        using var signedUser = await app.Client.SendAsync(asUser);

        await CreditsApp.Problem(none, HttpStatusCode.Unauthorized, "auth.missing");
        await CreditsApp.Problem(wrong, HttpStatusCode.Forbidden, "auth.forbidden");
        await CreditsApp.Problem(serviceKey, HttpStatusCode.Forbidden, "auth.forbidden");
        await CreditsApp.Problem(signedUser, HttpStatusCode.Unauthorized, "auth.missing");
        Assert.Null((await app.Facts(user)).Balance);
    }
}
