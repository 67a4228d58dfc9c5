using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Timepoint.Soak;

namespace Timepoint.Security.Tests;

/// <summary>Text no service can keep (U+0000, a lone UTF-16 surrogate), sent through the edge to every public route that takes input.</summary>
public sealed partial class SecurityTests
{
    /// <summary>JSON escapes, as a client would send them: NUL, a lone high and a lone low surrogate, both at once.</summary>
    public static TheoryData<string> UnkeepableJsonText => ["abc\\u0000def", "\\ud800", "x\\udfffy", "\\ud800\\u0000"];

    [Theory]
    [MemberData(nameof(UnkeepableJsonText))]
    public async Task Nul_or_a_lone_surrogate_on_any_public_route_is_a_4xx_problem_never_a_5xx_and_changes_nothing(string text)
    {
        var user = await platform.NewUserAsync();
        using var profileBefore = await platform.Gateway.SendAsync(Platform.As(user, HttpMethod.Get, "/api/v1/users/me"));
        var nameBefore = (await profileBefore.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("display_name").GetString();
        var nul = text.Contains("u0000", StringComparison.Ordinal);
        var cases = new List<(HttpMethod Method, string Path, string? Json, string? Form, bool AsUser)>
        {
            (HttpMethod.Post, "/api/v1/auth/refresh", $"{{\"refresh_token\":\"{text}\"}}", null, false),
            (HttpMethod.Post, "/api/v1/auth/demo", $"{{\"anything\":\"{text}\"}}", null, false),
            (HttpMethod.Post, "/api/v1/auth/google", $"{{\"id_token\":\"{text}\"}}", null, false),
            (HttpMethod.Post, "/api/v1/auth/apple", $"{{\"identity_token\":\"{text}\"}}", null, false),
            (HttpMethod.Post, "/api/v1/auth/github", $"{{\"code\":\"{text}\",\"redirect_uri\":\"com.timepoint.app:/oauth\"}}", null, false),
            (HttpMethod.Patch, "/api/v1/users/me", $"{{\"display_name\":\"{text}\"}}", null, true),
            (HttpMethod.Post, "/api/v1/auth/api-keys", $"{{\"name\":\"{text}\"}}", null, true),
            (HttpMethod.Post, "/api/v1/auth/api-keys", $"{{\"name\":\"ok\",\"scopes\":[\"{text}\"]}}", null, true),
            (HttpMethod.Post, "/api/v1/timepoints/generate/sync", $"{{\"query\":\"Moon landing {text} 1969\"}}", null, true),
            (HttpMethod.Post, "/api/v1/timepoints/generate", $"{{\"query\":\"Moon landing {text} 1969\"}}", null, true),
            (HttpMethod.Post, "/api/v1/timepoints/generate/stream", $"{{\"query\":\"Moon landing {text} 1969\"}}", null, true),
            // The edge's own pricing reads the preset.
            (HttpMethod.Post, "/api/v1/timepoints/generate/sync", $"{{\"query\":\"Moon landing 1969\",\"preset\":\"{text}\"}}", null, true),
            (HttpMethod.Post, "/api/v1/conductor/pro/simulate", $"{{\"scenario\":\"{text}\"}}", null, true),
            (HttpMethod.Post, "/api/v1/clockchain/moments", $"{{\"title\":\"{text}\"}}", null, true),
        };
        if (nul)
        {
            // In a form or a query, %ED%A0%80 decodes to U+FFFD, which is keepable; NUL is the case there.
            cases.Add((HttpMethod.Post, "/connect/token", null, "grant_type=refresh_token&refresh_token=abc%00def", false));
            cases.Add((HttpMethod.Post, "/connect/revoke", null, "token=abc%00def", false));
            cases.Add((HttpMethod.Get, "/api/v1/auth/google/callback?code=%00&state=abc", null, null, false));
            cases.Add((HttpMethod.Get, "/api/v1/timepoints?q=%00", null, null, true));
            cases.Add((HttpMethod.Get, "/api/v1/clockchain/moments?q=%00", null, null, false));
        }

        var answers = new List<string>();
        foreach (var (method, path, json, form, asUser) in cases)
        {
            using var request = asUser ? Platform.As(user, method, path) : new HttpRequestMessage(method, path);
            request.Content = json is not null ? new StringContent(json, Encoding.UTF8, "application/json")
                : form is not null ? new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded") : null;
            using var response = await platform.Gateway.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            answers.Add($"{method} {path}: {(int)response.StatusCode} {body}");
            Assert.True((int)response.StatusCode is >= 400 and < 500, answers[^1]);
            Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", answers[^1]);
            Assert.False(string.IsNullOrEmpty(JsonDocument.Parse(body).RootElement.GetProperty("code").GetString()), answers[^1]);
        }

        output.WriteLine(string.Join('\n', answers));
        await Edge.AssertUntouchedAsync(platform.Gateway, user);
        using var profileAfter = await platform.Gateway.SendAsync(Platform.As(user, HttpMethod.Get, "/api/v1/users/me"));
        Assert.Equal(nameBefore, (await profileAfter.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("display_name").GetString());
        using var keys = await platform.Gateway.SendAsync(Platform.As(user, HttpMethod.Get, "/api/v1/auth/api-keys"));
        Assert.Empty((await keys.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray());
    }

    [Theory]
    [InlineData("/api/v1/auth/demo/callback")]
    [InlineData("/api/v1/auth/refresh/callback?code=a&state=b")]
    [InlineData("/api/v1/auth/anything/callback")]
    public async Task A_callback_of_no_provider_is_404_for_anyone(string path)
    {
        using var response = await platform.Gateway.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains("Server"), "identity's Kestrel names itself; the edge removes it");
    }
}
