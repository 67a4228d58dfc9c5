using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Timepoint.Identity.Providers;

/// <summary>A browser sign-in between leaving for the provider and coming back.</summary>
/// <param name="RedirectUri">The registered client redirect URI that receives the TokenPair, or null when <paramref name="ReturnTo"/> is set.</param>
/// <param name="ReturnTo">A local /connect/authorize URL to resume with a session cookie, or null.</param>
/// <param name="BindingHash">SHA-256 of the value in the browser's binding cookie: the state only works in the browser that started.</param>
public sealed record PendingSignIn(string Provider, string? RedirectUri, string? ReturnTo, string CodeVerifier, string Nonce,
    string BindingHash, Uri Callback);

/// <summary>
/// Pending browser sign-ins, kept in Redis (shared by every identity replica) under a hash of their <c>state</c>, taken
/// with GETDEL so a state works once, and bound to the browser that started them by a cookie.
/// </summary>
public sealed class BrowserSignIns(IConnectionMultiplexer redis, IOptions<ProvidersOptions> options)
{
    private const string KeyPrefix = "timepoint:identity:signin-state:";
    private const string CookiePrefix = "tp_signin_";

    /// <summary>Stores a new pending sign-in; returns its state, the PKCE challenge and the nonce for the provider.</summary>
    public async Task<(string State, string Challenge, string Nonce)> StartAsync(HttpContext http, string provider, string? redirectUri, string? returnTo,
        Uri callback, bool secureCookie)
    {
        var state = Random();
        var binding = Random();
        var verifier = Random() + Random();
        var pending = new PendingSignIn(provider, redirectUri, returnTo, verifier, Random(), Hash(binding), callback);
        var lifetime = options.Value.StateLifetime;
        await redis.GetDatabase().StringSetAsync(KeyPrefix + Hash(state), JsonSerializer.Serialize(pending), lifetime);
        http.Response.Cookies.Append(CookieName(state), binding, new CookieOptions
        {
            HttpOnly = true,
            Secure = secureCookie,
            SameSite = SameSiteMode.Lax, // sent on the provider's top-level redirect back to us, not on cross-site subrequests
            Path = callback.AbsolutePath,
            MaxAge = lifetime,
            IsEssential = true,
        });
        return (state, WebEncoders.Base64UrlEncode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))), pending.Nonce);
    }

    /// <summary>Takes (and so uses up) the pending sign-in of this state, if this browser started it.</summary>
    public async Task<PendingSignIn?> TakeAsync(HttpContext http, string? state)
    {
        if (string.IsNullOrEmpty(state) || state.Length > 128)
        {
            return null;
        }

        var stored = await redis.GetDatabase().StringGetDeleteAsync(KeyPrefix + Hash(state));
        var cookie = CookieName(state);
        var binding = http.Request.Cookies[cookie];
        if (binding is not null)
        {
            http.Response.Cookies.Delete(cookie, new CookieOptions { Path = http.Request.Path });
        }

        if (stored.IsNullOrEmpty || binding is null)
        {
            return null;
        }

        var pending = JsonSerializer.Deserialize<PendingSignIn>(stored.ToString());
        return pending is not null && CryptographicOperations.FixedTimeEquals(
            Encoding.ASCII.GetBytes(pending.BindingHash), Encoding.ASCII.GetBytes(Hash(binding))) ? pending : null;
    }

    private static string CookieName(string state) => CookiePrefix + Hash(state)[..16];

    private static string Random() => WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    private static string Hash(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
}
