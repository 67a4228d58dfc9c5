using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Clockchain.Stub.Tests;

/// <summary>Clockchain in memory, shared by a test class: it only reads its shipped data set, so tests cannot disturb each other.</summary>
public sealed class ClockchainApp : ServiceApp<Program>
{
    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Client.GetAsync(path);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Every moment, paging through the list route 100 at a time.</summary>
    public async Task<List<JsonElement>> AllMomentsAsync(string filter = "")
    {
        var all = new List<JsonElement>();
        while (true)
        {
            var page = await GetJsonAsync($"/api/v1/moments?limit=100&offset={all.Count}{filter}");
            var items = page.GetProperty("items").EnumerateArray().ToList();
            all.AddRange(items);
            if (items.Count == 0 || all.Count >= page.GetProperty("total").GetInt32())
            {
                return all;
            }
        }
    }
}
