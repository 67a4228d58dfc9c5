using Timepoint.Client.Endpoints;
using Timepoint.Client.Http;

namespace Timepoint.Client;

/// <summary>Sign-in, refresh, logout and the caller's account (<c>/api/v1/auth/*</c>).</summary>
public sealed class AuthClient
{
    private readonly IAuthEndpoints endpoints;

    internal AuthClient(IAuthEndpoints endpoints) => this.endpoints = endpoints;

    /// <summary>A demo user of its own, with the 50-credit signup bonus; deleted with its data after two hours.</summary>
    public Task<TimepointResponse<TokenPair>> SignInDemoAsync(CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.DemoAsync(cancellationToken));

    /// <summary>Signs in with an Apple ID token (from Sign in with Apple on the device).</summary>
    public Task<TimepointResponse<TokenPair>> SignInWithAppleAsync(string identityToken, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.AppleAsync(new AppleSignIn(identityToken), cancellationToken));

    /// <summary>Signs in with a Google ID token.</summary>
    public Task<TimepointResponse<TokenPair>> SignInWithGoogleAsync(string idToken, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.GoogleAsync(new GoogleSignIn(idToken), cancellationToken));

    /// <summary>Signs in with a GitHub authorization code (and its PKCE verifier, when the code was asked for with one).</summary>
    public Task<TimepointResponse<TokenPair>> SignInWithGitHubAsync(string code, string redirectUri, string? codeVerifier = null,
        CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.GitHubAsync(new GitHubSignIn(code, redirectUri, codeVerifier), cancellationToken));

    /// <summary>
    /// A new pair for a refresh token, which is then spent: presenting it again ends the whole session. A client made
    /// with <see cref="TimepointCredential.TokenPair"/> does this itself.
    /// </summary>
    public Task<TimepointResponse<TokenPair>> RefreshAsync(string refreshToken, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.RefreshAsync(new RefreshRequest(refreshToken), cancellationToken));

    /// <summary>Ends this session (signed-in users only): its refresh tokens at once, its access tokens within seconds.</summary>
    public Task<TimepointResponse<LogoutResult>> LogoutAsync(CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.LogoutAsync(cancellationToken));

    /// <summary>The caller's profile.</summary>
    public Task<TimepointResponse<UserProfile>> GetMeAsync(CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.MeAsync(cancellationToken));

    /// <summary>Deletes the account and its data in every service (signed-in users only).</summary>
    public Task<TimepointResponse> DeleteMeAsync(CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.DeleteMeAsync(cancellationToken));
}
