namespace Timepoint.Identity.Data;

public sealed class User
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    /// <summary>Verified email, or null when no provider vouched for one.</summary>
    public string? Email { get; set; }

    public string DisplayName { get; set; } = "";

    public string? AvatarUrl { get; set; }

    /// <summary>free | pro | enterprise: picks the user's rate-limit tier at the edge.</summary>
    public string Tier { get; set; } = Tiers.Free;

    /// <summary>When an operator last set <see cref="Tier"/>: the edge reads recent changes with the revoked sessions.</summary>
    public DateTimeOffset? TierChangedAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset LastSeenAt { get; set; }

    public bool Disabled { get; set; }

    public List<ExternalLogin> Logins { get; set; } = [];
}

public static class Tiers
{
    public const string Free = "free";
    public const string Pro = "pro";
    public const string Enterprise = "enterprise";

    public static readonly string[] All = [Free, Pro, Enterprise];
}

/// <summary>One provider account (apple, google, github, demo...) linked to a user; unique per (provider, subject).</summary>
public sealed class ExternalLogin
{
    public string Provider { get; set; } = "";

    public string Subject { get; set; } = "";

    public Guid UserId { get; set; }

    public string? Email { get; set; }

    public DateTimeOffset LinkedAt { get; set; }
}

/// <summary>A token signing (or encryption) certificate; its validity window drives rotation.</summary>
public sealed class SigningKey
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    /// <summary>sig or enc.</summary>
    public string Use { get; set; } = "sig";

    /// <summary>PKCS#12 bytes of the certificate with its private key, protected by ASP.NET Core data protection.</summary>
    public byte[] ProtectedPfx { get; set; } = [];

    /// <summary>Published in JWKS from creation; signs from here on.</summary>
    public DateTimeOffset NotBefore { get; set; }

    public DateTimeOffset NotAfter { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Set when a newer key took over; the key stays published until its tokens have expired.</summary>
    public DateTimeOffset? RetireAfter { get; set; }
}

/// <summary>Work for another service that must not be lost when it is down (signup bonus, account deletion).</summary>
public sealed class OutboxMessage
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    public string Kind { get; set; } = "";

    public Guid UserId { get; set; }

    public int Attempts { get; set; }

    public DateTimeOffset NextAttemptAt { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Set when the attempts ran out: no longer tried until an operator retries it (the dashboard command).</summary>
    public DateTimeOffset? DeadAt { get; set; }
}
