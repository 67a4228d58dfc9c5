using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Timepoint.Credits.Ledger;
using Timepoint.ServiceDefaults;

namespace Timepoint.Credits;

/// <summary>
/// Routes for the platform's own services (X-Service-Key): identity opens and deletes accounts, the gateway reserves the cost
/// of a metered call and then settles or refunds it. The edge never routes <c>/internal/**</c> from outside.
/// See README.md for the contract.
/// </summary>
public static class InternalCreditsApi
{
    public const int MaxIdempotencyKey = 255;
    public const int MaxFingerprint = 255;
    private const int MaxReason = 500;
    public const int MaxSettleBatch = 1000;

    public static IEndpointRouteBuilder MapInternalCreditsApi(this IEndpointRouteBuilder app)
    {
        var internalApi = app.MapGroup("/internal/credits").RequireServiceKey().WithTags("Credits (internal)");

        internalApi.MapPost("/accounts", OpenAccount);
        internalApi.MapPost("/reserve", Reserve);
        internalApi.MapPost("/reservations/{id:guid}/settle", Settle);
        internalApi.MapPost("/reservations/settle", SettleMany);
        internalApi.MapPost("/reservations/{id:guid}/refund", Refund);
        internalApi.MapDelete("/users/{userId:guid}", DeleteUser);
        internalApi.MapGet("/users/{userId:guid}/export", ExportUser);
        internalApi.MapPost("/usage", RecordUsage);
        internalApi.MapGet("/users/{userId:guid}/api-keys/spending", KeySpending);
        internalApi.MapGet("/users/{userId:guid}/api-keys/{keyId:guid}/usage", KeyUsage);

        return app;
    }

    /// <summary>Ensures the user's account and its signup bonus, exactly once; safe to call any number of times.</summary>
    public static async Task<Results<Ok<AccountResponse>, ProblemHttpResult>> OpenAccount(
        HttpRequest request, CreditLedger ledger, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync(request);
        if (body is null)
        {
            return problem!;
        }

        var userId = body.UserId("user_id");
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        return await ledger.EnsureAccountAsync(userId, cancellationToken) switch
        {
            EnsureOutcome.Ready ready => TypedResults.Ok(new AccountResponse(ready.Account.Balance, ready.Created)),
            _ => UserDeleted(),
        };
    }

    public static async Task<Results<Ok<ReservationResponse>, ProblemHttpResult>> Reserve(
        HttpRequest request, CreditLedger ledger, IOptions<CreditsOptions> options, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync(request);
        if (body is null)
        {
            return problem!;
        }

        var userId = body.UserId("user_id");
        var operation = body.RequiredString("operation", 64);
        var key = body.OptionalString("idempotency_key", MaxIdempotencyKey);
        var fingerprint = body.OptionalString("request_fingerprint", MaxFingerprint);
        var apiKeyId = body.OptionalId("api_key_id");
        var keyLimit = body.OptionalCreditLimit("key_credit_limit");
        if (keyLimit is not null && apiKeyId is null)
        {
            body.Fail("key_credit_limit", "key_credit_limit needs the api_key_id it caps.");
        }

        if (operation.Length > 0 && !options.Value.Costs.ContainsKey(operation))
        {
            body.Fail("operation", $"Unknown operation '{operation}'.");
        }

        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        var command = new ReserveCommand(userId, operation, options.Value.Costs[operation], key, fingerprint, apiKeyId, keyLimit);
        return await ledger.ReserveAsync(command, cancellationToken) switch
        {
            ReserveOutcome.Reserved { Reservation: var r, Replayed: var replayed } =>
                TypedResults.Ok(new ReservationResponse(r.Id, r.Operation, r.Amount, r.BalanceAfter, r.Status, replayed)),
            ReserveOutcome.Insufficient insufficient => Problems.Create(StatusCodes.Status402PaymentRequired, ErrorCodes.InsufficientCredits,
                "Insufficient credits", $"{operation} costs {insufficient.Required} credits; the balance is {insufficient.Available}.",
                new Dictionary<string, object?>
                {
                    ["credits_required"] = insufficient.Required,
                    ["credits_available"] = insufficient.Available,
                }),
            ReserveOutcome.KeyLimitReached reached => Problems.Create(StatusCodes.Status402PaymentRequired, ErrorCodes.KeyCreditLimit,
                "API key credit limit reached",
                $"{operation} costs {reached.Required} credits; this API key has {reached.Remaining} left of its {keyLimit!.Amount} a {keyLimit.Period}.",
                new Dictionary<string, object?>
                {
                    ["credits_required"] = reached.Required,
                    ["key_credits_remaining"] = reached.Remaining,
                }),
            ReserveOutcome.KeyReused => Problems.Validation("idempotency_key",
                "This idempotency key was already used for a different request."),
            _ => UserDeleted(),
        };
    }

    public static async Task<Results<Ok<SettleResponse>, ProblemHttpResult>> Settle(
        Guid id, CreditLedger ledger, CancellationToken cancellationToken) =>
        await ledger.SettleAsync(id, cancellationToken) switch
        {
            SettleOutcome.Settled => TypedResults.Ok(new SettleResponse(id, ReservationStatus.Settled)),
            SettleOutcome.AlreadyRefunded => Problems.Create(StatusCodes.Status409Conflict, ErrorCodes.Conflict, "Conflict",
                "The reservation was already refunded; its charge cannot stand."),
            _ => Problems.NotFound("No such reservation."),
        };

    /// <summary>Settles up to <see cref="MaxSettleBatch"/> reservations at once; each answer is what its own settle would say.</summary>
    public static async Task<Results<Ok<SettleManyResponse>, ProblemHttpResult>> SettleMany(
        HttpRequest request, CreditLedger ledger, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync(request);
        if (body is null)
        {
            return problem!;
        }

        var ids = body.Ids("reservation_ids", MaxSettleBatch);
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        var outcomes = await ledger.SettleManyAsync(ids, cancellationToken);
        return TypedResults.Ok(new SettleManyResponse([.. ids.Select((id, i) => new SettleResponse(id, outcomes[i] switch
        {
            SettleOutcome.Settled => ReservationStatus.Settled,
            SettleOutcome.AlreadyRefunded => ReservationStatus.Refunded,
            _ => "not_found",
        }))]));
    }

    /// <summary>Refunds exactly once; a repeated (or concurrent) refund writes nothing and answers as the first did.</summary>
    public static async Task<Results<Ok<RefundResponse>, ProblemHttpResult>> Refund(
        Guid id, HttpRequest request, CreditLedger ledger, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync(request, optional: true);
        if (body is null)
        {
            return problem!;
        }

        var reason = body.OptionalString("reason", MaxReason);
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        return await ledger.RefundAsync(id, reason, cancellationToken) switch
        {
            RefundOutcome.Refunded refunded => TypedResults.Ok(new RefundResponse(id, ReservationStatus.Refunded, refunded.BalanceAfter)),
            RefundOutcome.AlreadySettled => Problems.Create(StatusCodes.Status409Conflict, ErrorCodes.Conflict, "Conflict",
                "The reservation was already settled; it cannot be refunded."),
            _ => Problems.NotFound("No such reservation."),
        };
    }

    /// <summary>Deletes the user's account, ledger and reservations; the user never gets an account (or a bonus) again.</summary>
    public static async Task<NoContent> DeleteUser(Guid userId, CreditLedger ledger, CancellationToken cancellationToken)
    {
        await ledger.DeleteUserAsync(userId, cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>Everything credits holds about a user, for identity's account export: the balance and the whole ledger.</summary>
    public static async Task<Results<Ok<UserCreditsExport>, ProblemHttpResult>> ExportUser(
        Guid userId, CreditLedger ledger, CancellationToken cancellationToken)
    {
        return await ledger.ExportAsync(userId, cancellationToken) is var (account, entries)
            ? TypedResults.Ok(new UserCreditsExport(new BalanceResponse(account.Balance, account.LifetimeEarned, account.LifetimeSpent),
                [.. entries.Select(e => new HistoryItem(e.Id, e.Amount, e.BalanceAfter, e.Type, e.Description, e.CreatedAt))]))
            : UserDeleted();
    }

    /// <summary>The edge's per-day request counts, in batches; added to what is there (each batch is sent once).</summary>
    public static async Task<NoContent> RecordUsage(UsageBatch batch, CreditLedger ledger, CancellationToken cancellationToken)
    {
        await ledger.RecordUsageAsync(batch.Counts ?? [], cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>For identity's key list: what each key of the user has spent today, this month and ever (UTC).</summary>
    public static async Task<Ok<IReadOnlyList<KeySpending>>> KeySpending(Guid userId, CreditLedger ledger, CancellationToken cancellationToken) =>
        TypedResults.Ok(await ledger.KeySpendingAsync(userId, cancellationToken));

    /// <summary>For identity's <c>GET /api/v1/auth/api-keys/{id}/usage</c> (identity checks that the key is the caller's).</summary>
    public static async Task<Results<Ok<IReadOnlyList<KeyUsageDay>>, ProblemHttpResult>> KeyUsage(Guid userId, Guid keyId, string? from,
        string? to, CreditLedger ledger, TimeProvider clock, CancellationToken cancellationToken) =>
        UsageRange.TryParse(from, to, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime), out var range, out var field, out var error)
            ? TypedResults.Ok(await ledger.KeyUsageAsync(userId, keyId, range, cancellationToken))
            : Problems.Validation(field, error);

    private static ProblemHttpResult UserDeleted() => Problems.Create(StatusCodes.Status409Conflict, ErrorCodes.Conflict, "Conflict",
        "The user was deleted; credits will not open an account for it again.");
}

public sealed record AccountResponse(long Balance, bool Created);

public sealed record UserCreditsExport(BalanceResponse Balance, IReadOnlyList<HistoryItem> Ledger);
