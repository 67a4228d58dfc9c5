using System.Net;
using Microsoft.Extensions.Hosting;

namespace Timepoint.Flash.Stub.Tests;

public sealed class DeletionTests(FlashApp app) : IClassFixture<FlashApp>
{
    [Fact]
    public async Task Owner_deletes_their_timepoint()
    {
        var owner = Guid.NewGuid();
        var id = (await app.GenerateSyncAsync(owner, "The eruption of Vesuvius, 79 AD")).GetProperty("id").GetString();

        using var deleted = await app.SendAsync(HttpMethod.Delete, $"/api/v1/timepoints/{id}", owner);
        using var again = await app.SendAsync(HttpMethod.Delete, $"/api/v1/timepoints/{id}", owner);
        using var read = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}", owner);

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await Problem.AssertAsync(again, HttpStatusCode.NotFound, "not_found");
        await Problem.AssertAsync(read, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Another_user_cannot_delete_a_timepoint_even_a_public_one()
    {
        var owner = Guid.NewGuid();
        var id = (await app.GenerateSyncAsync(owner, "The Battle of Waterloo")).GetProperty("id").GetString();

        using var response = await app.SendAsync(HttpMethod.Delete, $"/api/v1/timepoints/{id}", Guid.NewGuid());
        using var read = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}", owner);

        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task Admin_key_deletes_anyones_timepoint()
    {
        var owner = Guid.NewGuid();
        var id = (await app.GenerateSyncAsync(owner, "The Congress of Vienna", visibility: "private")).GetProperty("id").GetString();
        var request = app.Request(HttpMethod.Delete, $"/api/v1/timepoints/{id}", null);
        request.Headers.Add(ServiceKeyExtensions.AdminKeyHeader, app.Factory.AdminKey);

        using var response = await app.Client.SendAsync(request);
        using var read = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}", owner);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await Problem.AssertAsync(read, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Wrong_admin_key_is_403_even_with_a_user()
    {
        var owner = Guid.NewGuid();
        var id = (await app.GenerateSyncAsync(owner, "The Treaty of Westphalia")).GetProperty("id").GetString();
        var request = app.Request(HttpMethod.Delete, $"/api/v1/timepoints/{id}", owner);
        request.Headers.Add(ServiceKeyExtensions.AdminKeyHeader, app.Factory.ServiceKey);

        using var response = await app.Client.SendAsync(request);
        using var read = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}", owner);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "auth.forbidden");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task Deleting_a_user_with_the_service_key_removes_all_their_timepoints_and_only_theirs()
    {
        var leaving = Guid.NewGuid();
        var staying = Guid.NewGuid();
        await app.GenerateSyncAsync(leaving, "The storming of the Bastille");
        await app.GenerateSyncAsync(leaving, "The Tennis Court Oath", visibility: "private");
        await app.GenerateSyncAsync(staying, "The storming of the Bastille");
        var request = app.Request(HttpMethod.Delete, $"/internal/users/{leaving}", null);
        request.Headers.Add(ServiceKeyExtensions.ServiceKeyHeader, app.Factory.ServiceKey);

        using var response = await app.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(0, (await app.ListAsync(leaving)).GetProperty("total").GetInt32());
        Assert.Equal(1, (await app.ListAsync(staying)).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task User_deletion_needs_flashs_service_key()
    {
        var user = Guid.NewGuid();
        await app.GenerateSyncAsync(user, "The Magna Carta is sealed, 1215");
        using var withoutKey = await app.SendAsync(HttpMethod.Delete, $"/internal/users/{user}", null);
        var wrong = app.Request(HttpMethod.Delete, $"/internal/users/{user}", null);
        wrong.Headers.Add(ServiceKeyExtensions.ServiceKeyHeader, app.Factory.AdminKey);
        using var withWrongKey = await app.Client.SendAsync(wrong);
        using var asTheUser = await app.SendAsync(HttpMethod.Delete, $"/internal/users/{user}", user);

        await Problem.AssertAsync(withoutKey, HttpStatusCode.Unauthorized, "auth.missing");
        await Problem.AssertAsync(withWrongKey, HttpStatusCode.Forbidden, "auth.forbidden");
        await Problem.AssertAsync(asTheUser, HttpStatusCode.Unauthorized, "auth.missing");
        Assert.Equal(1, (await app.ListAsync(user)).GetProperty("total").GetInt32());
    }
}
