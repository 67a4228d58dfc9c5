namespace Timepoint.Identity.Data;

/// <summary>
/// An API key of a user. Only the SHA-256 of the key is kept (<see cref="Microsoft.Extensions.Hosting.ApiKeyFormat.Hash"/>),
/// never the key itself: the secret is shown once, when the key is created or rerolled.
/// </summary>
public sealed class ApiKey
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    public Guid UserId { get; set; }

    public string Name { get; set; } = "";

    /// <summary>Lowercase hex SHA-256 of the whole key; unique, the lookup on every verification.</summary>
    public string Hash { get; set; } = "";

    /// <summary>The start of the key (<c>tp_gw_</c> + 4 characters), so a user can tell keys apart.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>A subset of read, generate.</summary>
    public string[] Scopes { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>Updated at most about once a minute, off the request path.</summary>
    public DateTimeOffset? LastUsedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }

    /// <summary>Set when the key was rerolled: it keeps working until then (the grace period), then stops.</summary>
    public DateTimeOffset? ValidUntil { get; set; }

    /// <summary>The key that replaced this one in a reroll.</summary>
    public Guid? ReplacedById { get; set; }

    /// <summary>Requests a minute this key may make (every request of the key), besides the owner's own budgets; null: none.</summary>
    public int? RateLimitPerMinute { get; set; }

    /// <summary>Credits the key may spend per <see cref="CreditLimitPeriod"/>, enforced by credits with each reservation; null: none.</summary>
    public long? CreditLimit { get; set; }

    /// <summary>day | month | total (UTC calendar day and month).</summary>
    public string? CreditLimitPeriod { get; set; }
}
