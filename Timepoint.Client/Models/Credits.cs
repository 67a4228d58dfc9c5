namespace Timepoint.Client;

/// <summary>The caller's credits (<c>GET /api/v1/credits/balance</c>).</summary>
public sealed record CreditBalance(long Balance, long LifetimeEarned, long LifetimeSpent);

/// <summary>One ledger row: <see cref="Amount"/> is negative for a charge, positive for a grant or refund.</summary>
public sealed record CreditTransaction(long Id, long Amount, long BalanceAfter, string Type, string? Description, DateTimeOffset CreatedAt);

/// <summary>The price list (<c>GET /api/v1/credits/costs</c>): operation name to credits, e.g. <c>generate_balanced</c> 5.</summary>
public sealed record CreditCosts(IReadOnlyDictionary<string, long> Costs);
