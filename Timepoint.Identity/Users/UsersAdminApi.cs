using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Timepoint.Identity.Auth;
using Timepoint.Identity.Data;
using Timepoint.Identity.Sessions;

namespace Timepoint.Identity.Users;

/// <summary>
/// An operator's view of users, behind identity's X-Admin-Key and routed by the edge: <c>GET /api/v1/users/admin/{id}</c>,
/// <c>GET /api/v1/users/admin?email=</c>, and <c>PATCH /api/v1/users/admin/{id}</c> with <c>{"disabled": bool}</c> and/or
/// <c>{"tier": "free" | "pro" | "enterprise"}</c>. Disabling ends every session (access tokens refused at the edge within
/// seconds) and every API key; a disabled user gets no new token until enabled. A new tier is stamped with
/// <see cref="User.TierChangedAt"/>: every gateway replica reads it with the revoked sessions (about every second) and applies
/// it to the user's next request, whatever tier the access tokens already issued or the API-key verdicts cached there carry.
/// </summary>
public static class UsersAdminApi
{
    public static WebApplication MapUsersAdminApi(this WebApplication app)
    {
        var admin = app.MapGroup("/api/v1/users/admin").RequireAdminKey();
        admin.MapGet("/", FindByEmail).WithName("FindUserByEmail").WithSummary("Admin: the user with this email (?email=).").ProducesProblems(422);
        admin.MapGet("/{userId:guid}", Get).WithName("GetUserAdmin").WithSummary("Admin: one user.");
        admin.MapPatch("/{userId:guid}", Patch).WithName("UpdateUserAdmin").WithSummary("Admin: disables or enables a user (every session and key at once).").DescribedBody<UserAdminChangeBody>().ProducesProblems(400, 422);
        admin.ProducesProblems(404);
        return app;
    }

    private static async Task<Results<Ok<UserAdminView>, ProblemHttpResult>> Get(Guid userId, IdentityDbContext db, CancellationToken ct) =>
        await ViewAsync(db, u => u.Id == userId, ct) is { } view ? TypedResults.Ok(view) : Problems.NotFound("No such user.");

    private static async Task<Results<Ok<UserAdminView>, ProblemHttpResult>> FindByEmail(string? email, IdentityDbContext db, CancellationToken ct)
    {
        if (UserAccounts.NormalizeEmail(email) is not { Length: <= 320 } normalized)
        {
            return Problems.Validation("email", "email is required (an exact address, at most 320 characters).");
        }

        return await ViewAsync(db, u => u.Email == normalized, ct) is { } view ? TypedResults.Ok(view) : Problems.NotFound("No such user.");
    }

    /// <summary>
    /// Only <c>disabled</c> and <c>tier</c> may change here; any other member, or one of the wrong type, is 422 and changes nothing.
    /// </summary>
    private static async Task<Results<Ok<UserAdminView>, ProblemHttpResult>> Patch(Guid userId, JsonElement? json, IdentityDbContext db,
        SessionRevocations sessions, TimeProvider clock, ILoggerFactory loggers, CancellationToken ct)
    {
        // Nullable: a JSON null body binds to null here instead of failing the binding with a 500.
        if (json is not { ValueKind: JsonValueKind.Object } body)
        {
            return Problems.Validation("The body must be a JSON object.");
        }

        bool? disabled = null;
        string? tier = null;
        var errors = new Dictionary<string, string[]>();
        foreach (var property in body.EnumerateObject())
        {
            switch (property.Name)
            {
                case "disabled" when disabled is null && property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    disabled = property.Value.GetBoolean();
                    break;
                case "disabled":
                    errors["disabled"] = ["disabled must be true or false, given once."];
                    break;
                case "tier" when tier is null && property.Value.ValueKind == JsonValueKind.String
                    && Tiers.All.Contains(property.Value.GetString(), StringComparer.Ordinal):
                    tier = property.Value.GetString();
                    break;
                case "tier":
                    errors["tier"] = [$"tier must be one of {string.Join(", ", Tiers.All)}, given once."];
                    break;
                default:
                    errors[property.Name] = ["This member cannot be changed here."];
                    break;
            }
        }

        if (errors.Count > 0)
        {
            return Problems.Validation("The body names members that cannot be changed, or values of the wrong type.", errors);
        }

        var user = await db.Users.FirstOrDefaultAsync(u => u.Id == userId, ct);
        if (user is null)
        {
            return Problems.NotFound("No such user.");
        }

        var logger = loggers.CreateLogger(typeof(UsersAdminApi));
        if (tier is not null && tier != user.Tier)
        {
            var previous = user.Tier;
            user.Tier = tier;
            user.TierChangedAt = clock.GetUtcNow();
            await db.SaveChangesAsync(ct);
            logger.LogInformation("Admin set the tier of user {UserId} from {Previous} to {Tier}", userId, previous, tier);
        }

        if (disabled is { } value && value != user.Disabled)
        {
            // The flag first (no new sign-in, refresh or key verification from here on; keys are dropped at the edge), then
            // every session, so the access tokens already issued stop too.
            user.Disabled = value;
            await db.SaveChangesAsync(ct);
            logger.LogInformation("Admin {Action} user {UserId}", value ? "disabled" : "enabled", userId);
        }

        if (user.Disabled)
        {
            // Also when already disabled: a retry after a failed revocation finishes the job.
            await sessions.RevokeUserAsync(userId, RevocationReasons.Disabled, ct);
        }

        return TypedResults.Ok((await ViewAsync(db, u => u.Id == userId, ct))!);
    }

    private static Task<UserAdminView?> ViewAsync(IdentityDbContext db, System.Linq.Expressions.Expression<Func<User, bool>> which,
        CancellationToken ct) =>
        db.Users.AsNoTracking().Where(which)
            .Select(u => new UserAdminView(u.Id, u.Email, u.DisplayName, u.Tier, u.Disabled, u.CreatedAt, u.LastSeenAt,
                u.Logins.Select(l => l.Provider).Distinct().OrderBy(p => p).ToArray(),
                db.ApiKeys.Count(k => k.UserId == u.Id && k.RevokedAt == null)))
            .FirstOrDefaultAsync(ct);
}

/// <summary>What an operator sees of a user.</summary>
public sealed record UserAdminView(Guid Id, string? Email, string DisplayName, string Tier, bool Disabled, DateTimeOffset CreatedAt,
    DateTimeOffset LastSeenAt, string[] Providers, int ApiKeyCount);
