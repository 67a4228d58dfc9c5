using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Gateway.Auth;

/// <summary>
/// Identity's issuer and signing keys, read from its discovery document and JWKS, cached, refreshed on a timer and when
/// a token names an unknown key (at most once per interval). The last keys seen keep serving while identity is down.
/// </summary>
public sealed class IdentityKeys(IHttpClientFactory httpClients, IOptions<GatewayOptions> options, TimeProvider clock,
    GatewayMetrics metrics, ILogger<IdentityKeys> logger) : BackgroundService
{
    public const string HttpClientName = "identity-keys";

    /// <summary>
    /// The most signing keys taken from identity's JWKS (identity publishes its current key and those being rotated out):
    /// a larger set is refused and the last keys keep serving. With the client's 1 MB answer limit, the keys held are
    /// bounded whatever identity (or whatever answers in its place) sends.
    /// </summary>
    public const int MaxSigningKeys = 32;

    /// <summary>The most bytes read of identity's discovery document or JWKS.</summary>
    public const int MaxDocumentBytes = 1024 * 1024;

    private readonly SemaphoreSlim refreshing = new(1, 1);
    private readonly TaskCompletionSource firstLoad = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Snapshot? current;
    private DateTimeOffset lastAttempt = DateTimeOffset.MinValue;

    public sealed record Snapshot(string Issuer, IReadOnlyDictionary<string, SecurityKey> Keys);

    public Snapshot? Current => current;

    /// <summary>The keys, waiting briefly for the first load; null when identity has never answered.</summary>
    public async ValueTask<Snapshot?> GetAsync(CancellationToken ct)
    {
        if (current is { } snapshot)
        {
            return snapshot;
        }

        await Task.WhenAny(firstLoad.Task, Task.Delay(TimeSpan.FromSeconds(3), ct));
        return current;
    }

    /// <summary>Re-reads the keys for a token whose kid is unknown, unless that was tried too recently.</summary>
    public async ValueTask<Snapshot?> RefreshForUnknownKeyAsync(CancellationToken ct)
    {
        if (clock.GetUtcNow() - lastAttempt < options.Value.JwksMinimumRefreshInterval)
        {
            return current;
        }

        await RefreshAsync("unknown kid", ct);
        return current;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await RefreshAsync("scheduled", stoppingToken);
            var wait = current is null ? TimeSpan.FromSeconds(2) : options.Value.JwksRefreshInterval;
            await Task.Delay(wait, clock, stoppingToken);
        }
    }

    /// <summary>
    /// Where identity serves a URL its discovery document names: the part below the issuer (which may carry a path prefix a
    /// balancer strips), else the URL's own path.
    /// </summary>
    public static string InternalPath(Uri issuer, Uri url) =>
        issuer.IsBaseOf(url) && url.AbsoluteUri.StartsWith(issuer.AbsoluteUri, StringComparison.Ordinal)
            ? "/" + url.AbsoluteUri[issuer.AbsoluteUri.Length..]
            : url.PathAndQuery;

    /// <summary>The signing keys of a JWKS by kid; more than <see cref="MaxSigningKeys"/> is an <see cref="InvalidDataException"/>.</summary>
    public static Dictionary<string, SecurityKey> SigningKeys(string jwksJson)
    {
        // A certificate JWK yields the same key twice (x5c and n/e): one per kid is enough.
        var keys = new JsonWebKeySet(jwksJson).GetSigningKeys().Where(k => !string.IsNullOrEmpty(k.KeyId)).DistinctBy(k => k.KeyId)
            .ToDictionary(k => k.KeyId);
        return keys.Count <= MaxSigningKeys
            ? keys
            : throw new InvalidDataException($"The JWKS has {keys.Count} signing keys; at most {MaxSigningKeys} are taken.");
    }

    private async Task RefreshAsync(string reason, CancellationToken ct)
    {
        await refreshing.WaitAsync(ct);
        try
        {
            lastAttempt = clock.GetUtcNow();
            var client = httpClients.CreateClient(HttpClientName);
            using var discovery = JsonDocument.Parse(await client.GetStringAsync("/.well-known/openid-configuration", ct));
            var issuer = discovery.RootElement.GetProperty("issuer").GetString()!;
            // The document names public URLs; the JWKS is read from identity itself, at its place below the issuer.
            var jwksPath = InternalPath(new Uri(issuer), new Uri(discovery.RootElement.GetProperty("jwks_uri").GetString()!));
            var keys = SigningKeys(await client.GetStringAsync(jwksPath, ct));
            current = new Snapshot(issuer, keys);
            firstLoad.TrySetResult();
            metrics.JwksRefreshed(reason, success: true);
            logger.LogInformation("Loaded {KeyCount} signing keys of issuer {Issuer} ({Reason})", keys.Count, issuer, reason);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException or KeyNotFoundException
            or ArgumentException or InvalidDataException && !ct.IsCancellationRequested)
        {
            metrics.JwksRefreshed(reason, success: false);
            logger.LogWarning("Could not read identity's keys ({Reason}): {Error}; {State}", reason, ex.Message,
                current is null ? "no keys yet: JWTs are refused" : "keeping the last keys");
        }
        finally
        {
            refreshing.Release();
        }
    }
}
