using Xunit;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Testing;

public static class Problem
{
    /// <summary>Asserts a problem+json answer with this status and platform <c>code</c>.</summary>
    public static async Task<JsonElement> AssertAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(code, body.GetProperty("code").GetString());
        return body;
    }
}
