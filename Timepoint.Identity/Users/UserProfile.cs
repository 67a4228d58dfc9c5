using Timepoint.Identity.Data;

namespace Timepoint.Identity.Users;

public sealed record UserProfile(
    Guid Id, string? Email, string DisplayName, string? AvatarUrl, string Tier, string[] Providers,
    DateTimeOffset CreatedAt, DateTimeOffset LastSeenAt)
{
    public static UserProfile From(User user) => new(
        user.Id, user.Email, user.DisplayName, user.AvatarUrl, user.Tier,
        [.. user.Logins.Select(l => l.Provider).Distinct().Order()], user.CreatedAt, user.LastSeenAt);
}
