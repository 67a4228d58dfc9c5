using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Timepoint.Client;

/// <summary>How the client proves who it is: an API key, a bearer access token, or a token pair it refreshes itself.</summary>
public abstract class TimepointCredential
{
    private protected TimepointCredential()
    {
    }

    /// <summary>An API key (<c>tp_gw_…</c>), sent as <c>X-API-Key</c>. What it may do is its scopes.</summary>
    public static TimepointCredential ApiKey(string key) => new HeaderCredential("X-API-Key", Required(key, nameof(key)));

    /// <summary>An access token (a JWT) the caller renews itself, sent as <c>Authorization: Bearer</c>.</summary>
    public static TimepointCredential BearerToken(string accessToken) =>
        new HeaderCredential("Authorization", "Bearer " + Required(accessToken, nameof(accessToken)));

    /// <summary>
    /// A sign-in's token pair: the access token is sent, and renewed through <c>POST /api/v1/auth/refresh</c> shortly
    /// before it expires or when the platform answers 401 (one refresh at a time, however many calls are waiting).
    /// </summary>
    public static TokenPairCredential TokenPair(TokenPair tokens) => new(tokens);

    private static string Required(string value, string name) =>
        string.IsNullOrWhiteSpace(value) ? throw new ArgumentException("A credential cannot be empty.", name) : value;

    private sealed class HeaderCredential(string header, string value) : TimepointCredential
    {
        public void Apply(HttpRequestMessage request)
        {
            request.Headers.Remove(header);
            request.Headers.TryAddWithoutValidation(header, value);
        }
    }

    internal static void Apply(TimepointCredential credential, HttpRequestMessage request) => ((HeaderCredential)credential).Apply(request);
}

/// <summary>
/// A token pair that renews itself. Refresh tokens are single use (a reused one ends the whole session), so one refresh
/// runs at a time and every call that met the old token waits for it. Save <see cref="Current"/> when
/// <see cref="Refreshed"/> fires to keep the session across restarts.
/// </summary>
public sealed class TokenPairCredential : TimepointCredential
{
    /// <summary>How long before its expiry an access token is renewed before it is sent.</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim gate = new(1, 1);
    private volatile State state;
    private string? failedRefreshToken;

    internal TokenPairCredential(TokenPair tokens) => state = new State(tokens, ExpiryOf(tokens, DateTimeOffset.UtcNow));

    /// <summary>The pair in use now.</summary>
    public TokenPair Current => state.Tokens;

    /// <summary>When the current access token expires (its <c>exp</c>, or <c>expires_in</c> from when it was received).</summary>
    public DateTimeOffset ExpiresAt => state.ExpiresAt;

    /// <summary>Raised after every successful refresh, with the new pair.</summary>
    public event EventHandler<TokenPair>? Refreshed;

    /// <summary>The access token to send now, renewed first if it is about to expire.</summary>
    internal async ValueTask<string> AccessTokenAsync(Refresher refresh, CancellationToken cancellationToken)
    {
        var current = state;
        if (current.ExpiresAt - DateTimeOffset.UtcNow > RenewBefore)
        {
            return current.Tokens.AccessToken;
        }

        try
        {
            return await RenewAsync(current.Tokens.AccessToken, refresh, cancellationToken) ?? current.Tokens.AccessToken;
        }
        catch (HttpRequestException)
        {
            // The platform could not refresh just now; the token may still be good for a few seconds.
            return current.Tokens.AccessToken;
        }
    }

    /// <summary>
    /// Renews the pair unless another call already did since <paramref name="staleAccessToken"/> was sent. Null when
    /// the refresh token is refused (expired, revoked, reused): then the caller has to sign in again.
    /// </summary>
    internal async Task<string?> RenewAsync(string staleAccessToken, Refresher refresh, CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            var current = state;
            if (current.Tokens.AccessToken != staleAccessToken)
            {
                return current.Tokens.AccessToken;
            }

            if (current.Tokens.RefreshToken == failedRefreshToken)
            {
                return null;
            }

            var renewed = await refresh(current.Tokens.RefreshToken, cancellationToken);
            if (renewed is null)
            {
                failedRefreshToken = current.Tokens.RefreshToken;
                return null;
            }

            state = new State(renewed, ExpiryOf(renewed, DateTimeOffset.UtcNow));
            Refreshed?.Invoke(this, renewed);
            return renewed.AccessToken;
        }
        finally
        {
            gate.Release();
        }
    }

    internal delegate Task<TokenPair?> Refresher(string refreshToken, CancellationToken cancellationToken);

    internal static void Apply(HttpRequestMessage request, string accessToken) =>
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);

    /// <summary>The token's own <c>exp</c> when it is a readable JWT (it is not validated here: the platform does that).</summary>
    private static DateTimeOffset ExpiryOf(TokenPair tokens, DateTimeOffset receivedAt)
    {
        var parts = tokens.AccessToken.Split('.');
        if (parts.Length == 3)
        {
            try
            {
                var payload = parts[1].Replace('-', '+').Replace('_', '/');
                payload = payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=');
                using var claims = JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)));
                if (claims.RootElement.TryGetProperty("exp", out var exp) && exp.TryGetInt64(out var seconds))
                {
                    return DateTimeOffset.FromUnixTimeSeconds(seconds);
                }
            }
            catch (Exception ex) when (ex is FormatException or JsonException or ArgumentException)
            {
                // Not a JWT we can read: fall back on expires_in.
            }
        }

        return receivedAt + TimeSpan.FromSeconds(Math.Max(0, tokens.ExpiresIn));
    }

    private sealed record State(TokenPair Tokens, DateTimeOffset ExpiresAt);
}
