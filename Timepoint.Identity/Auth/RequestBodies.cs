using System.Text.Json.Serialization;

namespace Timepoint.Identity.Auth;

// The JSON bodies identity reads with its own readers (AuthRoutes turns the sign-in ones into OpenIddict's form; the
// profile, admin and API-key routes read member by member to refuse unknown ones). These records only describe them
// to the document: a member not named here is refused.

/// <summary><c>POST /api/v1/auth/refresh</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RefreshBody(string RefreshToken);

/// <summary><c>POST /api/v1/auth/apple</c>: the ID token Sign in with Apple gave the app.</summary>
public sealed record AppleSignInBody(string IdentityToken, string? Nonce = null);

/// <summary><c>POST /api/v1/auth/google</c>: the ID token Google Sign-In gave the app.</summary>
public sealed record GoogleSignInBody(string IdToken, string? Nonce = null);

/// <summary><c>POST /api/v1/auth/github</c>: the code of GitHub's redirect, exchanged by identity.</summary>
public sealed record GitHubSignInBody(string Code, string RedirectUri, string? CodeVerifier = null);

/// <summary><c>POST /api/v1/auth/dev/token</c> (admin): a TokenPair for this email, the user created on first use.</summary>
public sealed record DevTokenBody(string Email, string? DisplayName = null);

/// <summary><c>POST /api/v1/auth/service-token</c> (admin): a TokenPair acting as this existing user.</summary>
public sealed record ServiceTokenBody(Guid UserId);

/// <summary><c>PATCH /api/v1/users/me</c>: only these members; any other is 422 and nothing changes.</summary>
/// <param name="DisplayName">1 to 100 characters.</param>
/// <param name="AvatarUrl">An absolute http(s) URL of at most 2048 characters, or null to remove it.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ProfileChangeBody(string? DisplayName = null, string? AvatarUrl = null);

/// <summary><c>PATCH /api/v1/users/admin/{id}</c> (admin): only <c>disabled</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record UserAdminChangeBody(bool? Disabled = null);

/// <summary><c>POST /api/v1/auth/api-keys</c>.</summary>
/// <param name="Name">1 to 100 characters.</param>
/// <param name="Scopes">A non-empty subset of read, write, generate; ["read"] when left out.</param>
/// <param name="ExpiresAt">When the key stops working; never when left out.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ApiKeyCreateBody(string Name, string[]? Scopes = null, DateTimeOffset? ExpiresAt = null);

/// <summary><c>POST /api/v1/auth/api-keys/{id}/reroll</c>; the body may be left out.</summary>
/// <param name="GraceSeconds">How long the old secret keeps working, 0 to 604800; 86400 when left out.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ApiKeyRerollBody(int? GraceSeconds = null);

/// <summary>OAuth 2.0's answer on <c>/connect/token</c> (RFC 6749 section 5.1).</summary>
public sealed record OAuthTokenResponse(string AccessToken, string TokenType, long ExpiresIn, string? RefreshToken = null, string? Scope = null, string? IdToken = null);

/// <summary>OAuth 2.0's error on <c>/connect/*</c> (RFC 6749 section 5.2): these endpoints speak OAuth, not problem+json.</summary>
public sealed record OAuthError(string Error, string? ErrorDescription = null, string? ErrorUri = null);

/// <summary>The form of <c>POST /connect/token</c>: authorization_code (PKCE S256), refresh_token or client_credentials.</summary>
public sealed record OAuthTokenForm(string GrantType, string? Code = null, string? RedirectUri = null, string? CodeVerifier = null, string? RefreshToken = null,
    string? ClientId = null, string? ClientSecret = null, string? Scope = null);

/// <summary>The form of <c>POST /connect/revoke</c> (RFC 7009).</summary>
public sealed record OAuthRevokeForm(string Token, string? TokenTypeHint = null, string? ClientId = null, string? ClientSecret = null);
