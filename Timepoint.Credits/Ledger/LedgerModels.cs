using Timepoint.ServiceDefaults;

namespace Timepoint.Credits.Ledger;

/// <summary>Ledger row types (docs/contract.md#4-credits, plus the types of the other metered operations).</summary>
public static class TransactionTypes
{
    public const string SignupBonus = "signup_bonus";
    public const string Generation = "generation";
    public const string Chat = "chat";
    public const string Temporal = "temporal";
    public const string Simulation = "simulation";
    public const string Indexing = "indexing";
    public const string Usage = "usage";
    public const string AdminGrant = "admin_grant";
    public const string Refund = "refund";

    /// <summary>What an admin grant may be recorded as.</summary>
    public static readonly IReadOnlySet<string> Grantable = new HashSet<string>(StringComparer.Ordinal) { AdminGrant, Refund };

    /// <summary>The ledger type of a debit for an operation: generate_* is generation, chat is chat, and so on.</summary>
    public static string ForOperation(string operation) => operation switch
    {
        _ when operation.StartsWith("generate_", StringComparison.Ordinal) => Generation,
        "chat" => Chat,
        "temporal_jump" => Temporal,
        _ when operation.StartsWith("conductor_", StringComparison.Ordinal) => Simulation,
        "clockchain_index" => Indexing,
        _ => Usage,
    };
}

public static class ReservationStatus
{
    public const string Reserved = "reserved";
    public const string Settled = "settled";
    public const string Refunded = "refunded";
}

public sealed record Account(long Balance, long LifetimeEarned, long LifetimeSpent);

public sealed record LedgerEntry(long Id, long Amount, long BalanceAfter, string Type, string? Description, DateTimeOffset CreatedAt);

public sealed record Reservation(Guid Id, string Operation, long Amount, string Status, long BalanceAfter);

/// <param name="ApiKeyId">The API key the call was made with (null: the user's access token), kept on the reservation and ledger rows.</param>
/// <param name="KeyLimit">That key's credit cap, checked in the reservation's transaction.</param>
public sealed record ReserveCommand(Guid UserId, string Operation, long Cost, string? IdempotencyKey, string? RequestFingerprint,
    Guid? ApiKeyId = null, KeyCreditLimit? KeyLimit = null);

/// <summary>An account on first touch: created now (with the signup bonus), already there, or refused because the user was deleted.</summary>
public abstract record EnsureOutcome
{
    public sealed record Ready(Account Account, bool Created) : EnsureOutcome;

    public sealed record UserDeleted : EnsureOutcome;
}

public abstract record GrantOutcome
{
    public sealed record Granted(long Balance, long Amount) : GrantOutcome;

    public sealed record UserDeleted : GrantOutcome;

    public sealed record BalanceOverflow : GrantOutcome;
}

public abstract record ReserveOutcome
{
    /// <summary>Charged now, or (<paramref name="Replayed"/>) the earlier reservation under the same idempotency key.</summary>
    public sealed record Reserved(Reservation Reservation, bool Replayed) : ReserveOutcome;

    public sealed record Insufficient(long Required, long Available) : ReserveOutcome;

    /// <summary>The API key's credit cap has less than the cost left in its period (<paramref name="Remaining"/>).</summary>
    public sealed record KeyLimitReached(long Required, long Remaining) : ReserveOutcome;

    /// <summary>The idempotency key was used for a different request (another fingerprint or operation).</summary>
    public sealed record KeyReused : ReserveOutcome;

    public sealed record UserDeleted : ReserveOutcome;
}

public abstract record SettleOutcome
{
    public sealed record Settled : SettleOutcome;

    public sealed record AlreadyRefunded : SettleOutcome;

    public sealed record NotFound : SettleOutcome;
}

public abstract record RefundOutcome
{
    /// <summary>Refunded, now or (<paramref name="AlreadyDone"/>) by an earlier call; <paramref name="BalanceAfter"/> is that refund's.</summary>
    public sealed record Refunded(long BalanceAfter, bool AlreadyDone) : RefundOutcome;

    public sealed record AlreadySettled : RefundOutcome;

    public sealed record NotFound : RefundOutcome;
}
