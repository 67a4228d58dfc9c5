using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Timepoint.AppHost;

namespace Timepoint.EndToEnd.Tests;

/// <summary>What an operator gets on the dashboard: admin commands that work, and logs that carry no secret.</summary>
[Collection(PlatformCollection.Name)]
public sealed class DashboardTests(PlatformFixture platform)
{
    [Theory]
    [InlineData("credits", AdminCommands.GrantCredits)]
    [InlineData("identity", AdminCommands.RevokeSessions)]
    [InlineData("identity", AdminCommands.RotateSigningKey)]
    [InlineData("identity", AdminCommands.ResetDemoData)]
    [InlineData("identity", AdminCommands.RetryOutboxDeadLetters)]
    public void Admin_commands_are_on_their_resources_and_ask_for_confirmation(string resource, string command)
    {
        var annotation = Resource(resource).Annotations.OfType<ResourceCommandAnnotation>().SingleOrDefault(a => a.Name == command);

        Assert.NotNull(annotation);
        Assert.False(string.IsNullOrWhiteSpace(annotation.DisplayName));
        Assert.False(string.IsNullOrWhiteSpace(annotation.ConfirmationMessage));
    }

    [Fact]
    public async Task Grant_credits_command_adds_to_the_users_balance()
    {
        var user = await NewUserAsync();

        var result = await ExecuteAsync("credits", AdminCommands.GrantCredits,
            ("user_id", user.UserId.ToString()), ("amount", "70"), ("description", "e2e dashboard grant"));
        using var balance = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Get, "/api/v1/credits/balance"));

        Assert.True(result.Success, result.Message);
        Assert.Equal(120, (await balance.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("balance").GetInt64());
    }

    [Fact]
    public async Task Grant_credits_command_refuses_a_malformed_user_id_without_calling_credits()
    {
        var result = await ExecuteAsync("credits", AdminCommands.GrantCredits, ("user_id", "not-a-uuid"), ("amount", "5"), ("description", ""));
        Assert.False(result.Success);
    }

    [Fact]
    public async Task Revoke_sessions_command_ends_the_users_refresh_tokens()
    {
        var user = await NewUserAsync();

        var result = await ExecuteAsync("identity", AdminCommands.RevokeSessions, ("user_id", user.UserId.ToString()));
        using var refresh = await platform.Gateway.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = user.RefreshToken });

        Assert.True(result.Success, result.Message);
        Assert.False(refresh.IsSuccessStatusCode);
    }

    [Fact]
    public async Task Retry_outbox_dead_letters_command_reaches_identitys_admin_endpoint()
    {
        var result = await ExecuteAsync("identity", AdminCommands.RetryOutboxDeadLetters);

        // A healthy platform has no dead letter; OutboxTests shows a retried one delivered.
        Assert.True(result.Success, result.Message);
        Assert.Contains("\"retried\":", result.Data?.Value ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_of_a_realistic_session_carry_ids_but_no_token_key_or_secret()
    {
        // A session touching every credential the platform handles: tokens, a refresh, an API key used twice,
        // a metered call, a refused key, and two dashboard commands that send admin keys.
        var user = await NewUserAsync();
        using var refreshed = await platform.Gateway.PostAsJsonAsync("/api/v1/auth/refresh", new { refresh_token = user.RefreshToken });
        var pair = await refreshed.Content.ReadFromJsonAsync<JsonElement>();
        var secondAccess = pair.GetProperty("access_token").GetString()!;
        var secondRefresh = pair.GetProperty("refresh_token").GetString()!;
        using var created = await platform.Gateway.SendAsync(PlatformFixture.As(user, HttpMethod.Post, "/api/v1/auth/api-keys",
            new { name = "logs", scopes = new[] { "read", "generate" } }));
        var apiKey = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        for (var i = 0; i < 2; i++)
        {
            using var withKey = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
            withKey.Headers.Add("X-API-Key", apiKey);
            using var balance = await platform.Gateway.SendAsync(withKey);
        }

        // A metered call too (its outcome does not matter here: on a busy machine the 5 s upstream timeout may refund it).
        using var generate = new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync")
        {
            Content = JsonContent.Create(new { query = "The fall of the Berlin Wall" }),
        };
        generate.Headers.Add("X-API-Key", apiKey);
        using var generated = await platform.Gateway.SendAsync(generate);

        var forgedKey = apiKey[..^4] + "AAAA";
        using var forged = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        forged.Headers.Add("X-API-Key", forgedKey);
        using var refused = await platform.Gateway.SendAsync(forged);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.True((await ExecuteAsync("credits", AdminCommands.GrantCredits,
            ("user_id", user.UserId.ToString()), ("amount", "1"), ("description", ""))).Success);
        Assert.True((await ExecuteAsync("identity", AdminCommands.RotateSigningKey)).Success);

        // The platform's own secrets, and the local redis password (it once showed in the redis resource's log, when it
        // was on redis-server's command line).
        string[] secretNames = ["gateway-signing-secret", "identity-service-key", "identity-admin-key", "credits-service-key",
            "credits-admin-key", "flash-service-key", "flash-admin-key", "pro-service-key", "pro-admin-key", "redis-password"];
        var secrets = new Dictionary<string, string>
        {
            ["access token"] = user.AccessToken,
            ["signature of the access token"] = user.AccessToken.Split('.')[2],
            ["refresh token"] = user.RefreshToken,
            ["second access token"] = secondAccess,
            ["second refresh token"] = secondRefresh,
            ["API key"] = apiKey,
            ["forged API key"] = forgedKey,
        };
        foreach (var name in secretNames)
        {
            secrets[name] = await platform.ParameterAsync(name);
        }

        // The gateway's request lines come last; once they are in, so is everything the session logged before them.
        var logs = await WaitForLogsAsync(text => text.Contains("Refused GET credits-read with 401 auth.key_invalid", StringComparison.Ordinal));

        Assert.Contains($"Admin grant of 1 credits (admin_grant) to user {user.UserId}", logs["credits"], StringComparison.Ordinal);
        Assert.Contains("Dashboard command: Rotating the token signing key", logs["identity"], StringComparison.Ordinal);
        foreach (var (resource, text) in logs)
        {
            foreach (var (what, value) in secrets)
            {
                var line = text.Split('\n').FirstOrDefault(l => l.Contains(value, StringComparison.Ordinal));
                Assert.True(line is null, $"The {what} appears in the logs of {resource}: {line?.Replace(value, "<" + what + ">", StringComparison.Ordinal)}");
            }
        }
    }

    /// <summary>The first sign-in after a cold start can outlast the fixture's 5 s upstream timeout on a busy machine.</summary>
    private async Task<TokenPair> NewUserAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await platform.NewUserAsync();
            }
            catch (Xunit.Sdk.XunitException) when (attempt < 3)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
    }

    private IResource Resource(string name) =>
        platform.App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == name);

    private Task<ExecuteCommandResult> ExecuteAsync(string resource, string command, params (string Name, string Value)[] arguments)
    {
        var commands = platform.App.Services.GetRequiredService<ResourceCommandService>();
        var inputs = arguments.Select(a => new InteractionInput { Name = a.Name, InputType = InputType.Text, Value = a.Value }).ToList();
        return commands.ExecuteCommandAsync(Resource(resource), command, new InteractionInputCollection(inputs),
            CancellationToken.None);
    }

    /// <summary>Every resource's console log and the AppHost's log of it (command lines), once the gateway's satisfy <paramref name="ready"/>.</summary>
    private async Task<Dictionary<string, string>> WaitForLogsAsync(Func<string, bool> ready)
    {
        var loggers = platform.App.Services.GetRequiredService<ResourceLoggerService>();
        var model = platform.App.Services.GetRequiredService<DistributedApplicationModel>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var logs = new Dictionary<string, string>();
            foreach (var resource in model.Resources.Where(r => r is ProjectResource or ExecutableResource))
            {
                var text = new StringBuilder();
                await foreach (var batch in loggers.GetAllAsync(resource))
                {
                    foreach (var line in batch)
                    {
                        text.AppendLine(line.Content);
                    }
                }

                logs[resource.Name] = text.ToString();
            }

            if (ready(logs["gateway"]) || DateTime.UtcNow > deadline)
            {
                Assert.True(ready(logs["gateway"]), "The gateway's request log lines did not arrive:\n" + logs["gateway"][^Math.Min(2000, logs["gateway"].Length)..]);
                return logs;
            }

            await Task.Delay(500);
        }
    }
}
