using System.Globalization;
using System.Net.Http.Json;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Timepoint.AppHost;

/// <summary>
/// One-click operator actions on the dashboard. Each calls an admin endpoint of its service with that service's
/// X-Admin-Key (read from the AppHost parameter, never shown), asks for confirmation first, and writes a line to the
/// resource's log on the dashboard: what was asked, and the answer's status.
/// </summary>
public static class AdminCommands
{
    public const string GrantCredits = "grant-credits";
    public const string RevokeSessions = "revoke-sessions";
    public const string RotateSigningKey = "rotate-signing-key";
    public const string ResetDemoData = "reset-demo-data";
    public const string DisableUser = "disable-user";
    public const string EnableUser = "enable-user";
    public const string SetTier = "set-tier";
    public const string RetryOutboxDeadLetters = "retry-outbox-dead-letters";

    private const string UserIdArgument = "user_id";
    private const string AmountArgument = "amount";
    private const string DescriptionArgument = "description";
    private const string TierArgument = "tier";
    private static readonly string[] Tiers = ["free", "pro", "enterprise"];

    /// <summary>Grants credits to a user (credits' POST /api/v1/credits/admin/grant, an admin_grant ledger row).</summary>
    public static IResourceBuilder<ProjectResource> WithGrantCreditsCommand(this IResourceBuilder<ProjectResource> credits, ServiceKeys keys) =>
        credits.WithHttpCommand("/api/v1/credits/admin/grant", "Grant credits", commandName: GrantCredits,
            commandOptions: new HttpCommandOptions
            {
                Description = "Adds credits to a user's balance (ledger type admin_grant).",
                ConfirmationMessage = "Grant these credits? The grant is written to the user's ledger and cannot be undone.",
                IconName = "Money",
                Arguments = [UserIdInput(), AmountInput(), DescriptionInput()],
                ValidateArguments = Validate,
                PrepareRequest = async context =>
                {
                    var args = context.Arguments!;
                    var userId = Guid.Parse(args[UserIdArgument].Value!);
                    var amount = long.Parse(args[AmountArgument].Value!, CultureInfo.InvariantCulture);
                    var description = args[DescriptionArgument].Value is { Length: > 0 } text ? text : "Granted from the dashboard";
                    await AuthorizeAsync(context, keys, $"Granting {amount} credits to user {userId}");
                    context.Request.Content = JsonContent.Create(new { user_id = userId, amount, description });
                },
                GetCommandResult = Answer,
            });

    /// <summary>Revokes every refresh token and authorization of a user (identity's admin endpoint).</summary>
    public static IResourceBuilder<ProjectResource> WithRevokeSessionsCommand(this IResourceBuilder<ProjectResource> identity, ServiceKeys keys) =>
        identity.WithHttpCommand("/internal/identity/admin/users", "Revoke all sessions of a user", commandName: RevokeSessions,
            commandOptions: new HttpCommandOptions
            {
                Description = "Revokes every refresh token and authorization of the user; every gateway replica refuses the access "
                    + "tokens already issued within seconds.",
                ConfirmationMessage = "Revoke all sessions of this user? They will have to sign in again.",
                IconName = "PersonProhibited",
                Arguments = [UserIdInput()],
                ValidateArguments = Validate,
                PrepareRequest = async context =>
                {
                    var userId = Guid.Parse(context.Arguments![UserIdArgument].Value!);
                    context.Request.RequestUri = new Uri(context.Request.RequestUri!, $"/internal/identity/admin/users/{userId}/sessions/revoke");
                    await AuthorizeAsync(context, keys, $"Revoking all sessions of user {userId}");
                },
                GetCommandResult = Answer,
            });

    /// <summary>
    /// Disables or enables a user (identity's PATCH /api/v1/users/admin/{id}): a disabled user's tokens and API keys are
    /// refused at the edge within seconds, and they cannot sign in or refresh until enabled.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithDisableUserCommands(this IResourceBuilder<ProjectResource> identity, ServiceKeys keys) =>
        identity.WithUserFlagCommand(keys, DisableUser, "Disable user", disabled: true, "PersonLock",
                "Ends every session and API key of the user; they cannot sign in again until enabled.",
                "Disable this user? Their tokens and API keys stop working within seconds.")
            .WithUserFlagCommand(keys, EnableUser, "Enable user", disabled: false, "PersonAvailable",
                "Lets a disabled user sign in again: their API keys work again, their old sessions stay ended.", "Enable this user?");

    private static IResourceBuilder<ProjectResource> WithUserFlagCommand(this IResourceBuilder<ProjectResource> identity, ServiceKeys keys,
        string name, string displayName, bool disabled, string icon, string description, string confirmation) =>
        identity.WithHttpCommand("/api/v1/users/admin", displayName, commandName: name,
            commandOptions: new HttpCommandOptions
            {
                Description = description,
                ConfirmationMessage = confirmation,
                IconName = icon,
                Method = HttpMethod.Patch,
                Arguments = [UserIdInput()],
                ValidateArguments = Validate,
                PrepareRequest = async context =>
                {
                    var userId = Guid.Parse(context.Arguments![UserIdArgument].Value!);
                    context.Request.RequestUri = new Uri(context.Request.RequestUri!, $"/api/v1/users/admin/{userId}");
                    context.Request.Content = JsonContent.Create(new { disabled });
                    await AuthorizeAsync(context, keys, $"{displayName}: {userId}");
                },
                GetCommandResult = Answer,
            });

    /// <summary>
    /// Sets a user's tier (identity's PATCH /api/v1/users/admin/{id} {"tier"}): its metered rate limit changes at every gateway
    /// replica within seconds, for its API keys and for the access tokens it already holds.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSetTierCommand(this IResourceBuilder<ProjectResource> identity, ServiceKeys keys) =>
        identity.WithHttpCommand("/api/v1/users/admin", "Set tier", commandName: SetTier,
            commandOptions: new HttpCommandOptions
            {
                Description = "Sets the user's tier (free 10, pro 60, enterprise 300 metered calls a minute); every gateway replica "
                    + "applies it to the user's next request within seconds, for tokens already issued too.",
                ConfirmationMessage = "Set this user's tier?",
                IconName = "Ribbon",
                Method = HttpMethod.Patch,
                Arguments = [UserIdInput(), TierInput()],
                ValidateArguments = Validate,
                PrepareRequest = async context =>
                {
                    var userId = Guid.Parse(context.Arguments![UserIdArgument].Value!);
                    var tier = context.Arguments[TierArgument].Value!;
                    context.Request.RequestUri = new Uri(context.Request.RequestUri!, $"/api/v1/users/admin/{userId}");
                    context.Request.Content = JsonContent.Create(new { tier });
                    await AuthorizeAsync(context, keys, $"Setting the tier of user {userId} to {tier}");
                },
                GetCommandResult = Answer,
            });

    /// <summary>Starts a new token signing key now (identity's POST /internal/identity/keys/rotate).</summary>
    public static IResourceBuilder<ProjectResource> WithRotateSigningKeyCommand(this IResourceBuilder<ProjectResource> identity, ServiceKeys keys) =>
        identity.WithHttpCommand("/internal/identity/keys/rotate", "Rotate the token signing key", commandName: RotateSigningKey,
            commandOptions: new HttpCommandOptions
            {
                Description = "Publishes a new signing key; tokens signed with the old one stay valid until they expire.",
                ConfirmationMessage = "Rotate the token signing key now?",
                IconName = "KeyReset",
                PrepareRequest = context => AuthorizeAsync(context, keys, "Rotating the token signing key"),
                GetCommandResult = Answer,
            });

    /// <summary>Deletes every demo user everywhere; each next demo sign-in starts fresh (identity's admin endpoint).</summary>
    public static IResourceBuilder<ProjectResource> WithResetDemoDataCommand(this IResourceBuilder<ProjectResource> identity, ServiceKeys keys) =>
        identity.WithHttpCommand("/internal/identity/admin/demo/reset", "Reset demo data", commandName: ResetDemoData,
            commandOptions: new HttpCommandOptions
            {
                Description = "Deletes every demo user with its sessions, API keys, credits and timepoints; "
                    + "each next demo sign-in creates a fresh one with the signup bonus.",
                ConfirmationMessage = "Reset the demo data? Every demo user's keys, credits and timepoints are deleted.",
                IconName = "ArrowReset",
                PrepareRequest = context => AuthorizeAsync(context, keys, "Resetting the demo data"),
                GetCommandResult = Answer,
            });

    /// <summary>
    /// Puts identity's outbox dead letters (signup bonuses, deletions elsewhere whose attempts ran out) back in line with a
    /// fresh set of attempts (identity's POST /internal/identity/admin/outbox/retry).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithRetryOutboxCommand(this IResourceBuilder<ProjectResource> identity, ServiceKeys keys) =>
        identity.WithHttpCommand("/internal/identity/admin/outbox/retry", "Retry outbox dead letters", commandName: RetryOutboxDeadLetters,
            commandOptions: new HttpCommandOptions
            {
                Description = "Tries again every outbox message whose attempts ran out (signup bonuses, account deletions in credits, "
                    + "flash and pro), once the service that refused them is back.",
                ConfirmationMessage = "Retry every outbox dead letter now?",
                IconName = "ArrowRepeatAll",
                PrepareRequest = context => AuthorizeAsync(context, keys, "Retrying the outbox dead letters"),
                GetCommandResult = Answer,
            });

    private static InteractionInput UserIdInput() => new()
    {
        Name = UserIdArgument,
        Label = "User id",
        Description = "The user's id (the `sub` of their tokens), a UUID.",
        InputType = InputType.Text,
        Required = true,
        Placeholder = "00000000-0000-0000-0000-000000000000",
    };

    private static InteractionInput TierInput() => new()
    {
        Name = TierArgument,
        Label = "Tier",
        InputType = InputType.Choice,
        Required = true,
        Options = [.. Tiers.Select(t => KeyValuePair.Create(t, t))],
    };

    private static InteractionInput AmountInput() => new()
    {
        Name = AmountArgument,
        Label = "Credits",
        InputType = InputType.Number,
        Required = true,
        Placeholder = "100",
    };

    private static InteractionInput DescriptionInput() => new()
    {
        Name = DescriptionArgument,
        Label = "Ledger description",
        InputType = InputType.Text,
        Required = false,
        MaxLength = 500,
        Placeholder = "Granted from the dashboard",
    };

    private static Task Validate(InputsDialogValidationContext context)
    {
        foreach (var input in context.Inputs)
        {
            if (input.Name == UserIdArgument && !Guid.TryParse(input.Value, out _))
            {
                context.AddValidationError(input, "Enter a user id (UUID).");
            }
            else if (input.Name == AmountArgument
                && (!long.TryParse(input.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || amount <= 0))
            {
                context.AddValidationError(input, "Enter a whole number of credits above zero.");
            }
            else if (input.Name == TierArgument && !Tiers.Contains(input.Value, StringComparer.Ordinal))
            {
                context.AddValidationError(input, $"Choose one of: {string.Join(", ", Tiers)}.");
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Sets the service's X-Admin-Key on the request and logs what is being done (never the key).</summary>
    private static async Task AuthorizeAsync(HttpCommandRequestContext context, ServiceKeys keys, string action)
    {
        Log(context.Services, context.ResourceName).LogInformation("Dashboard command: {Action}", action);
        context.Request.Headers.Add("X-Admin-Key", await keys.AdminKey.Resource.GetValueAsync(context.CancellationToken));
    }

    /// <summary>Success with the service's JSON answer shown, or failure with its problem detail; logged either way.</summary>
    private static async Task<ExecuteCommandResult> Answer(HttpCommandResultContext context)
    {
        var body = await context.Response.Content.ReadAsStringAsync(context.CancellationToken);
        var status = (int)context.Response.StatusCode;
        Log(context.Services, context.ResourceName).LogInformation("Dashboard command answered {Status}: {Body}", status, body);
        return context.Response.IsSuccessStatusCode
            ? CommandResults.Success($"Done ({status}).", body, CommandResultFormat.Json)
            : CommandResults.Failure($"Refused ({status}).", body, CommandResultFormat.Json);
    }

    private static ILogger Log(IServiceProvider services, string resourceName) =>
        services.GetRequiredService<ResourceLoggerService>().GetLogger(resourceName);
}
