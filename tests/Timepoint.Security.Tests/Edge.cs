using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Timepoint.Soak;

namespace Timepoint.Security.Tests;

/// <summary>Small helpers for reading the edge's answers.</summary>
public static class Edge
{
    public static async Task<string?> CodeAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        try
        {
            return JsonDocument.Parse(text).RootElement.TryGetProperty("code", out var code) ? code.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>401 problem+json with a code and WWW-Authenticate: Bearer, as docs/contract.md#3-every-request asks.</summary>
    public static async Task AssertUnauthorizedAsync(HttpResponseMessage response, params string[] codes)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        var code = await CodeAsync(response);
        Assert.Contains(code, codes.Length == 0 ? ["auth.jwt_invalid", "auth.jwt_expired", "auth.key_invalid"] : codes);
    }

    public static async Task<List<JsonElement>> HistoryAsync(HttpClient gateway, User user)
    {
        using var response = await gateway.SendAsync(Platform.As(user, HttpMethod.Get, "/api/v1/credits/history?limit=100"));
        response.EnsureSuccessStatusCode();
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()];
    }

    /// <summary>The user's credits are untouched: only the signup bonus, nothing charged, no timepoint made.</summary>
    public static async Task AssertUntouchedAsync(HttpClient gateway, User user)
    {
        Assert.Equal(50, await Platform.BalanceAsync(gateway, user));
        Assert.Single(await HistoryAsync(gateway, user));
        using var mine = await gateway.SendAsync(Platform.As(user, HttpMethod.Get, "/api/v1/users/me/timepoints"));
        mine.EnsureSuccessStatusCode();
        Assert.Empty((await mine.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray());
    }
}
