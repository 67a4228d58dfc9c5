using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Timepoint.Credits.Ledger;
using Timepoint.ServiceDefaults;

namespace Timepoint.Credits;

/// <summary>The public credits routes (docs/contract.md#2-edge-routes): the caller's balance and history, the price list, admin grants.</summary>
public static class CreditsApi
{
    private const int DefaultLimit = 20;
    private const int MaxLimit = 100;
    private const int MaxDescription = 500;

    public static IEndpointRouteBuilder MapCreditsApi(this IEndpointRouteBuilder app)
    {
        var credits = app.MapGroup("/api/v1/credits").WithTags("Credits");

        credits.MapGet("/costs", GetCosts).WithName("GetCosts").WithSummary("The price of every metered operation, in credits.");

        var mine = credits.MapGroup("").RequireGatewayUser();
        mine.MapGet("/balance", GetBalance).WithName("GetBalance").WithSummary("The caller's balance and lifetime totals.").ProducesProblems(404);
        mine.MapGet("/history", GetHistory).WithName("GetHistory").WithSummary("The caller's ledger, newest first (limit 1..100, default 20; offset).").ProducesProblems(404, 422);
        mine.MapGet("/usage", GetUsage).WithName("GetCreditsUsage").WithSummary("The caller's credits charged and calls, by day, operation or API key (from..to, at most 92 days).").ProducesProblems(404, 422);

        var admin = credits.MapGroup("/admin").RequireAdminKey();
        admin.MapPost("/grant", Grant).WithName("GrantCredits").WithSummary("Admin: adds credits to a user (its account is opened if credits has not seen it yet).")
            .Accepts<GrantRequest>("application/json").ProducesProblems(400, 415, 422);

        return app;
    }

    public static Ok<CostsResponse> GetCosts(IOptions<CreditsOptions> options) =>
        TypedResults.Ok(new CostsResponse(options.Value.Costs));

    public static async Task<Results<Ok<BalanceResponse>, ProblemHttpResult>> GetBalance(
        ClaimsPrincipal user, CreditLedger ledger, CancellationToken cancellationToken)
    {
        var account = await ledger.GetAccountAsync(user.GetUserId()!.Value, cancellationToken);
        return account is null
            ? AccountDeleted()
            : TypedResults.Ok(new BalanceResponse(account.Balance, account.LifetimeEarned, account.LifetimeSpent));
    }

    public static async Task<Results<Ok<IReadOnlyList<HistoryItem>>, ProblemHttpResult>> GetHistory(
        ClaimsPrincipal user, CreditLedger ledger, string? limit, string? offset, CancellationToken cancellationToken)
    {
        if (!TryParseQuery(limit, DefaultLimit, 1, MaxLimit, out var take))
        {
            return Problems.Validation("limit", $"limit must be a whole number from 1 to {MaxLimit}.");
        }

        if (!TryParseQuery(offset, 0, 0, int.MaxValue, out var skip))
        {
            return Problems.Validation("offset", "offset must be a whole number of 0 or more.");
        }

        var entries = await ledger.GetHistoryAsync(user.GetUserId()!.Value, take, skip, cancellationToken);
        return entries is null
            ? AccountDeleted()
            : TypedResults.Ok<IReadOnlyList<HistoryItem>>(
                [.. entries.Select(e => new HistoryItem(e.Id, e.Amount, e.BalanceAfter, e.Type, e.Description, e.CreatedAt))]);
    }

    /// <summary>
    /// The caller's charged calls (not refunded) from <c>from</c> to <c>to</c> (UTC dates, at most 92 days), grouped by
    /// <c>day</c> (every day, zeros included), <c>operation</c> or <c>api_key</c> (null: calls made with an access token).
    /// </summary>
    public static async Task<Results<Ok<UsageResponse>, ProblemHttpResult>> GetUsage(ClaimsPrincipal user, CreditLedger ledger,
        TimeProvider clock, string? from, string? to, string? group_by, CancellationToken cancellationToken)
    {
        var groupBy = group_by ?? UsageGroups.Day;
        if (!UsageGroups.All.Contains(groupBy, StringComparer.Ordinal))
        {
            return Problems.Validation("group_by", $"group_by must be one of: {string.Join(", ", UsageGroups.All)}.");
        }

        if (!UsageRange.TryParse(from, to, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime), out var range, out var field, out var error))
        {
            return Problems.Validation(field, error);
        }

        var userId = user.GetUserId()!.Value;
        if (await ledger.GetAccountAsync(userId, cancellationToken) is null)
        {
            return AccountDeleted();
        }

        // Each row names its group by what it is: date, operation, or api_key_id (null: calls made with an access token).
        var member = groupBy switch { UsageGroups.Day => "date", UsageGroups.Operation => "operation", _ => "api_key_id" };
        var rows = await ledger.UserUsageAsync(userId, range, groupBy, cancellationToken);
        return TypedResults.Ok(new UsageResponse(range.From, range.To, groupBy,
            [.. rows.Select(r => new Dictionary<string, object?> { [member] = r.Group, ["credits_charged"] = r.CreditsCharged, ["calls"] = r.Calls })],
            new UsageTotals(rows.Sum(r => r.CreditsCharged), rows.Sum(r => r.Calls))));
    }

    /// <summary>
    /// Adds credits to a user. A well-formed user id credits has not seen yet gets its account (and signup bonus) now:
    /// identity may not have called credits for that user yet. A deleted user, or any bad field, is refused and nothing is written.
    /// </summary>
    public static async Task<Results<Ok<GrantResponse>, ProblemHttpResult>> Grant(
        HttpRequest request, CreditLedger ledger, IOptions<CreditsOptions> options, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync(request);
        if (body is null)
        {
            return problem!;
        }

        var userId = body.UserId("user_id");
        var amount = body.PositiveWholeNumber("amount", options.Value.MaxGrant);
        var type = body.OptionalString("transaction_type", 64) ?? TransactionTypes.AdminGrant;
        if (!TransactionTypes.Grantable.Contains(type))
        {
            body.Fail("transaction_type", $"transaction_type must be one of: {string.Join(", ", TransactionTypes.Grantable)}.");
        }

        var description = body.OptionalString("description", MaxDescription);
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        var outcome = await ledger.GrantAsync(userId, amount, type, description ?? "Admin grant", cancellationToken);
        loggers.CreateLogger(typeof(CreditsApi)).LogInformation("Admin grant of {Amount} credits ({Type}) to user {UserId}: {Outcome}",
            amount, type, userId, outcome.GetType().Name);
        return outcome switch
        {
            GrantOutcome.Granted granted => TypedResults.Ok(new GrantResponse(granted.Balance, granted.Amount)),
            GrantOutcome.UserDeleted => Problems.Validation("user_id", "user_id belongs to a deleted user."),
            _ => Problems.Validation("amount", "amount would take the balance beyond what it can hold."),
        };
    }

    private static bool TryParseQuery(string? text, int fallback, int min, int max, out int value)
    {
        if (text is null)
        {
            value = fallback;
            return true;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
    }

    private static ProblemHttpResult AccountDeleted() => Problems.NotFound("This user's credits account was deleted.");
}

public sealed record CostsResponse(IReadOnlyDictionary<string, long> Costs);

public sealed record BalanceResponse(long Balance, long LifetimeEarned, long LifetimeSpent);

public sealed record HistoryItem(long Id, long Amount, long BalanceAfter, string Type, string? Description, DateTimeOffset CreatedAt);

public sealed record GrantResponse(long Balance, long Granted);

public sealed record UsageTotals(long CreditsCharged, long Calls);

public sealed record UsageResponse(DateOnly From, DateOnly To, string GroupBy, IReadOnlyList<Dictionary<string, object?>> Rows, UsageTotals Totals);

/// <summary>The grant body (read field by field by <see cref="JsonBody"/>; described here for the document).</summary>
/// <param name="Amount">Whole credits, more than 0.</param>
/// <param name="TransactionType">admin_grant by default.</param>
public sealed record GrantRequest(Guid UserId, long Amount, string? TransactionType = null, string? Description = null);
