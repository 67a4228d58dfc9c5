using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Timepoint.Identity.Auth;
using Timepoint.Identity.ApiKeys;
using Timepoint.Identity.Data;
using Timepoint.Identity.Downstream;

namespace Timepoint.Identity.Users;

public static class UsersApi
{
    public static WebApplication MapUsersApi(this WebApplication app)
    {
        var me = app.MapGroup("/api/v1/users/me").RequireGatewayUser();
        me.MapGet("/", GetMe).WithName("GetProfile").WithSummary("The caller's profile.");
        me.MapPatch("/", PatchMe).WithName("UpdateProfile").WithSummary("Changes display_name and avatar_url; any other member is refused.").DescribedBody<ProfileChangeBody>().ProducesProblems(400, 422);
        me.MapGet("/export", Export).RequireJwtUser().WithName("ExportMe").WithSummary("Everything identity holds about the caller, as one JSON document.");
        me.ProducesProblems(404);

        app.MapPost("/api/v1/users/resolve", Resolve).RequireServiceKey().WithName("ResolveUser").WithSummary("Service: the user for a provider identity, created on first use.").ProducesProblems(400, 422);
        return app;
    }

    private static async Task<Results<Ok<UserProfile>, ProblemHttpResult>> GetMe(ClaimsPrincipal caller, UserAccounts users, CancellationToken ct)
    {
        var user = await users.FindAsync(caller.GetUserId()!.Value, ct);
        return user is null ? Problems.NotFound("The account no longer exists.") : TypedResults.Ok(UserProfile.From(user));
    }

    /// <summary>Changes display_name and avatar_url only; any other member is refused, never applied.</summary>
    private static async Task<Results<Ok<UserProfile>, ProblemHttpResult>> PatchMe(
        ClaimsPrincipal caller, JsonElement? json, UserAccounts users, IdentityDbContext db, CancellationToken ct)
    {
        // Nullable: a JSON null body binds to null here instead of failing the binding with a 500.
        if (json is not { ValueKind: JsonValueKind.Object } body)
        {
            return Problems.Validation("The body must be a JSON object.");
        }

        var errors = new Dictionary<string, string[]>();
        string? displayName = null, avatarUrl = null;
        bool setName = false, setAvatar = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in body.EnumerateObject())
        {
            // A member given twice is ambiguous (parsers disagree on which one wins): refused, never guessed at.
            if (!seen.Add(property.Name))
            {
                errors[property.Name] = ["A member may appear only once."];
                continue;
            }

            switch (property.Name)
            {
                case "display_name" when property.Value.ValueKind == JsonValueKind.String
                    && property.Value.GetString()!.Trim() is { Length: >= 1 and <= 100 } name:
                    (displayName, setName) = (name, true);
                    break;
                case "display_name":
                    errors["display_name"] = ["display_name must be a string of 1 to 100 characters."];
                    break;
                case "avatar_url" when property.Value.ValueKind == JsonValueKind.Null:
                    (avatarUrl, setAvatar) = (null, true);
                    break;
                case "avatar_url" when property.Value.ValueKind == JsonValueKind.String
                    && Uri.TryCreate(property.Value.GetString(), UriKind.Absolute, out var uri)
                    && uri.Scheme is "https" or "http" && uri.OriginalString.Length <= 2048:
                    (avatarUrl, setAvatar) = (uri.OriginalString, true);
                    break;
                case "avatar_url":
                    errors["avatar_url"] = ["avatar_url must be an absolute http(s) URL of at most 2048 characters, or null."];
                    break;
                default:
                    errors[property.Name] = ["Only display_name and avatar_url can be changed."];
                    break;
            }
        }

        if (errors.Count > 0)
        {
            return Problems.Validation("The profile was not changed.", errors);
        }

        var user = await users.FindAsync(caller.GetUserId()!.Value, ct);
        if (user is null)
        {
            return Problems.NotFound("The account no longer exists.");
        }

        if (setName)
        {
            user.DisplayName = displayName!;
        }

        if (setAvatar)
        {
            user.AvatarUrl = avatarUrl;
        }

        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(UserProfile.From(user));
    }

    /// <summary>
    /// Everything the platform holds about the caller: identity's own data, and what credits (balance, ledger), flash
    /// (timepoints) and pro (simulations) hold. All or nothing: if a service cannot answer, 503 and no partial document.
    /// </summary>
    private static async Task<Results<Ok<UserExport>, ProblemHttpResult>> Export(ClaimsPrincipal caller, UserAccounts users,
        ApiKeyStore apiKeys, ICreditsInternalApi credits, IFlashInternalApi flash, IProInternalApi pro, HttpResponse response,
        ILoggerFactory loggers, CancellationToken ct)
    {
        var user = await users.FindAsync(caller.GetUserId()!.Value, ct);
        if (user is null)
        {
            return Problems.NotFound("The account no longer exists.");
        }

        var ledger = credits.ExportUserAsync(user.Id, ct);
        var timepoints = flash.ExportUserAsync(user.Id, ct);
        var simulations = pro.ExportUserAsync(user.Id, ct);
        JsonElement theirTimepoints, theirSimulations;
        try
        {
            await Task.WhenAll(ledger, timepoints, simulations);
            (theirTimepoints, theirSimulations) = (timepoints.Result.GetProperty("timepoints"), simulations.Result.GetProperty("simulations"));
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            loggers.CreateLogger(typeof(UsersApi)).LogWarning("Export of user {UserId} failed: {Error}", user.Id, ex.Message);
            response.Headers.RetryAfter = "5";
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.UpstreamUnavailable, "Service unavailable",
                "The export holds the data of every service, and one cannot answer right now; nothing partial is returned. Try again shortly.");
        }

        return TypedResults.Ok(new UserExport(UserProfile.From(user), user.Disabled,
            [.. user.Logins.Select(l => new LoginExport(l.Provider, l.Subject, l.Email, l.LinkedAt))],
            await apiKeys.ListAsync(user.Id, ct), ledger.Result, theirTimepoints, theirSimulations));
    }

    /// <summary>Service: the user behind an external login, created (with the signup bonus) on first sight.</summary>
    private static async Task<Results<Ok<ResolveResponse>, ProblemHttpResult>> Resolve(ResolveRequest? request, UserAccounts users, CancellationToken ct)
    {
        if (request is null || string.IsNullOrWhiteSpace(request.Provider) || request.Provider.Length > 32
            || string.IsNullOrWhiteSpace(request.ExternalId) || request.ExternalId.Length > 255)
        {
            return Problems.Validation("provider (<= 32 chars) and external_id (<= 255 chars) are required.");
        }

        if (request.Email is not null && (!System.Net.Mail.MailAddress.TryCreate(request.Email, out _) || request.Email.Length > 320))
        {
            return Problems.Validation("email", "email is not a valid address.");
        }

        var (user, created) = await users.ResolveAsync(new ExternalIdentity(request.Provider.Trim().ToLowerInvariant(), request.ExternalId,
            request.Email, request.EmailVerified, request.DisplayName), ct);
        return TypedResults.Ok(new ResolveResponse(user.Id, created));
    }

    public sealed record ResolveRequest(string Provider, string ExternalId, string? Email, string? DisplayName, bool EmailVerified = false);

    public sealed record ResolveResponse(Guid UserId, bool Created);

    /// <param name="Credits">Credits' document: <c>balance</c> and the whole <c>ledger</c>.</param>
    /// <param name="Timepoints">Flash's timepoints of the user, newest first.</param>
    /// <param name="Simulations">Pro's simulations of the user that it still keeps, newest first.</param>
    public sealed record UserExport(UserProfile Profile, bool Disabled, LoginExport[] Logins, ApiKeyView[] ApiKeys,
        JsonElement Credits, JsonElement Timepoints, JsonElement Simulations);

    public sealed record LoginExport(string Provider, string Subject, string? Email, DateTimeOffset LinkedAt);
}
