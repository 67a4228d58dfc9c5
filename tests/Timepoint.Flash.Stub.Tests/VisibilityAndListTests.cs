using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Flash.Stub.Tests;

public sealed class VisibilityAndListTests(FlashApp app) : IClassFixture<FlashApp>
{
    [Fact]
    public async Task Private_timepoint_is_hidden_from_other_users()
    {
        var owner = Guid.NewGuid();
        var timepoint = await app.GenerateSyncAsync(owner, "The coronation of Napoleon, 1804", generateImage: true, visibility: "private");
        var id = timepoint.GetProperty("id").GetString();

        using var byOwner = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}", owner);
        using var byOther = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}", Guid.NewGuid());
        using var imageByOther = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}/image.png", Guid.NewGuid());

        Assert.Equal(HttpStatusCode.OK, byOwner.StatusCode);
        await Problem.AssertAsync(byOther, HttpStatusCode.NotFound, "not_found");
        await Problem.AssertAsync(imageByOther, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Public_timepoint_is_visible_to_other_users_but_not_in_their_list()
    {
        var owner = Guid.NewGuid();
        var other = Guid.NewGuid();
        var timepoint = await app.GenerateSyncAsync(owner, "The opening of the Suez Canal, 1869");
        var id = timepoint.GetProperty("id").GetString();

        using var byOther = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{id}", other);

        Assert.Equal(HttpStatusCode.OK, byOther.StatusCode);
        Assert.Equal(timepoint.GetRawText(), (await byOther.Content.ReadFromJsonAsync<JsonElement>()).GetRawText());
        Assert.Equal(0, (await app.ListAsync(other)).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task Unknown_timepoint_is_404()
    {
        using var response = await app.SendAsync(HttpMethod.Get, $"/api/v1/timepoints/{Guid.NewGuid()}", Guid.NewGuid());

        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task List_pages_through_the_callers_timepoints_newest_first()
    {
        var user = Guid.NewGuid();
        var ids = new List<string>();
        foreach (var query in new[] { "The Battle of Marathon", "The Battle of Salamis", "The Battle of Gaugamela" })
        {
            ids.Add((await app.GenerateSyncAsync(user, query, visibility: "private")).GetProperty("id").GetString()!);
        }

        await app.GenerateSyncAsync(Guid.NewGuid(), "Someone else's timepoint");

        var first = await app.ListAsync(user, "?limit=2");
        var second = await app.ListAsync(user, "?limit=2&offset=2");
        var past = await app.ListAsync(user, "?limit=2&offset=10");

        Assert.Equal(3, first.GetProperty("total").GetInt32());
        Assert.Equal(2, first.GetProperty("limit").GetInt32());
        Assert.Equal(0, first.GetProperty("offset").GetInt32());
        var listed = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray())
            .Select(t => t.GetProperty("id").GetString()).ToList();
        Assert.Equal(Enumerable.Reverse(ids), listed);
        Assert.Empty(past.GetProperty("items").EnumerateArray());
        Assert.Equal(3, past.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task List_defaults_to_twenty_from_the_start()
    {
        var list = await app.ListAsync(Guid.NewGuid());

        Assert.Equal(20, list.GetProperty("limit").GetInt32());
        Assert.Equal(0, list.GetProperty("offset").GetInt32());
        Assert.Empty(list.GetProperty("items").EnumerateArray());
    }

    [Theory]
    [InlineData("?limit=0")]
    [InlineData("?limit=101")]
    [InlineData("?offset=-1")]
    public async Task List_bounds_out_of_range_are_422(string query)
    {
        using var response = await app.SendAsync(HttpMethod.Get, "/api/v1/timepoints" + query, Guid.NewGuid());

        await Problem.AssertAsync(response, HttpStatusCode.UnprocessableEntity, "validation_failed");
    }

    [Fact]
    public async Task Users_me_timepoints_lists_the_callers_timepoints()
    {
        var user = Guid.NewGuid();
        var timepoint = await app.GenerateSyncAsync(user, "The Wright brothers' first flight, 1903");

        using var response = await app.SendAsync(HttpMethod.Get, "/api/v1/users/me/timepoints?limit=100", user);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var list = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, list.GetProperty("total").GetInt32());
        Assert.Equal(timepoint.GetProperty("id").GetString(), list.GetProperty("items")[0].GetProperty("id").GetString());
    }
}
