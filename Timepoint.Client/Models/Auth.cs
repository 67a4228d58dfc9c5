namespace Timepoint.Client;

/// <summary>What every sign-in and refresh answers: a 15-minute access token (a JWT) and a single-use refresh token.</summary>
public sealed record TokenPair(string AccessToken, string RefreshToken, string TokenType, int ExpiresIn);

/// <summary>The caller's profile (<c>GET /api/v1/auth/me</c>, <c>GET /api/v1/users/me</c>).</summary>
public sealed record UserProfile(
    Guid Id,
    string? Email,
    string DisplayName,
    string? AvatarUrl,
    string Tier,
    IReadOnlyList<string> Providers,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastSeenAt);

/// <summary>The answer of <c>POST /api/v1/auth/logout</c>.</summary>
public sealed record LogoutResult(string Detail);

/// <summary>Everything the platform holds about the caller (<c>GET /api/v1/users/me/export</c>), from every service.</summary>
public sealed record UserExport(
    UserProfile Profile,
    bool Disabled,
    IReadOnlyList<LinkedLogin> Logins,
    IReadOnlyList<ApiKey> ApiKeys,
    CreditsExport Credits,
    IReadOnlyList<Timepoint> Timepoints,
    IReadOnlyList<Simulation> Simulations);

/// <summary>The caller's credits account and its whole ledger.</summary>
public sealed record CreditsExport(CreditBalance Balance, IReadOnlyList<CreditTransaction> Ledger);

/// <summary>A sign-in method linked to the account.</summary>
public sealed record LinkedLogin(string Provider, string Subject, string? Email, DateTimeOffset LinkedAt);

/// <summary><c>PATCH /api/v1/users/me</c>: only these two change; a member left null is left as it is.</summary>
public sealed record ProfileUpdate(string? DisplayName = null, string? AvatarUrl = null);
