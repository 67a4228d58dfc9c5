namespace Timepoint.Identity.Data;

/// <summary>
/// A session (an OpenIddict authorization: the <c>oi_au_id</c> of its access tokens) whose access tokens the edge must
/// refuse before they expire. Kept until every access token the session could have issued has expired.
/// </summary>
public sealed class SessionRevocation
{
    public string SessionId { get; set; } = "";

    public Guid UserId { get; set; }

    /// <summary>logout, revoke_all, refresh_reuse, disabled, deleted.</summary>
    public string Reason { get; set; } = "";

    public DateTimeOffset RevokedAt { get; set; }

    /// <summary>After this no access token of the session is valid anyway: the row can go.</summary>
    public DateTimeOffset ExpiresAt { get; set; }
}
