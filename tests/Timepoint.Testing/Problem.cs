using Xunit;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Timepoint.Testing;

public static class Problem
{
    /// <summary>Asserts a problem+json answer with this status and platform <c>code</c> (and Retry-After on a 503).</summary>
    public static async Task<JsonElement> AssertAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        if (status == HttpStatusCode.ServiceUnavailable)
        {
            // Every 503 says when to come back (docs/contract.md#3-every-request); checked wherever a test meets one.
            Assert.True(response.Headers.RetryAfter is not null, "A 503 without Retry-After.");
        }

        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(code, body.GetProperty("code").GetString());
        return body;
    }
}
