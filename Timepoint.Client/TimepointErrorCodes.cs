namespace Timepoint.Client;

/// <summary>The <c>code</c> values of the platform's problems (docs/contract.md section 3), for <see cref="TimepointApiException.Code"/>.</summary>
public static class TimepointErrorCodes
{
    public const string AuthMissing = "auth.missing";
    public const string JwtInvalid = "auth.jwt_invalid";
    public const string JwtExpired = "auth.jwt_expired";
    public const string KeyInvalid = "auth.key_invalid";
    public const string KeyRevoked = "auth.key_revoked";
    public const string TokenRevoked = "auth.token_revoked";
    public const string Forbidden = "auth.forbidden";
    public const string InsufficientCredits = "auth.insufficient_credits";
    public const string KeyCreditLimit = "auth.key_credit_limit";
    public const string RateLimited = "rate_limited";
    public const string ValidationFailed = "validation_failed";
    public const string NotFound = "not_found";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string Conflict = "conflict";
    public const string UpstreamUnavailable = "upstream_unavailable";
    public const string UpstreamTimeout = "upstream_timeout";
    public const string Internal = "internal_error";
}
