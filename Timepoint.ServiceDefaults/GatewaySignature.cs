using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Everything the edge vouches for on one forwarded request, and the <c>v2</c> signature over all of it
/// (docs/security.md, "Gateway signature v2"). Every field is in the signed text, empty when it does not apply (an
/// anonymous request has no user; an unmetered one no reservation), so a field added, removed or changed on the way is
/// a different text and the signature fails. One signature on every forwarded request, anonymous ones too: it also
/// vouches for the client address (v1's separate client signature is folded in).
/// </summary>
/// <param name="PathAndQuery">The path and raw query the backend receives (<c>/api/v1/x?a=1</c>).</param>
/// <param name="RequestId">The request's X-Request-ID (the client's when sane, for correlation: it may repeat).</param>
/// <param name="Nonce">Unique per forward (the edge's own): what a backend remembers to refuse a replay.</param>
/// <param name="ClientAddress">The client's address as the edge resolved it (X-Forwarded-For), or empty.</param>
/// <param name="Price">The credits reserved for this call (X-Gateway-Price), with <paramref name="ReservationId"/>.</param>
public sealed record GatewayForward(
    string Method,
    string PathAndQuery,
    string RequestId,
    string Nonce,
    long Timestamp,
    string ClientAddress,
    string UserId = "",
    string AuthMethod = "",
    string ApiKeyId = "",
    string SessionId = "",
    string ReservationId = "",
    string Price = "")
{
    public const string Version = "v2";

    /// <summary><c>v2=</c> + hex HMAC-SHA256(secret, "v2\n" + the fields, one a line, in declaration order).</summary>
    public string Sign(string secret) => Version + "=" + Convert.ToHexStringLower(HMACSHA256.HashData(
        Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(string.Join('\n', Version, Method.ToUpperInvariant(), PathAndQuery,
            RequestId, Nonce, Timestamp.ToString(CultureInfo.InvariantCulture), ClientAddress, UserId, AuthMethod, ApiKeyId,
            SessionId, ReservationId, Price))));

    /// <summary>The headers that carry this forward, the signature last; a field that does not apply is not sent.</summary>
    public IEnumerable<(string Name, string Value)> Headers(string secret)
    {
        yield return (GatewayHeaders.RequestId, RequestId);
        yield return (GatewayHeaders.Nonce, Nonce);
        yield return (GatewayHeaders.Timestamp, Timestamp.ToString(CultureInfo.InvariantCulture));
        foreach (var (name, value) in Optional())
        {
            if (value.Length > 0)
            {
                yield return (name, value);
            }
        }

        yield return (GatewayHeaders.Signature, Sign(secret));
    }

    /// <summary>A fresh nonce: 128 random bits, hex.</summary>
    public static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private IEnumerable<(string, string)> Optional() =>
    [
        (GatewayHeaders.ForwardedFor, ClientAddress), (GatewayHeaders.UserId, UserId), (GatewayHeaders.AuthMethod, AuthMethod),
        (GatewayHeaders.ApiKeyId, ApiKeyId), (GatewayHeaders.SessionId, SessionId),
        (GatewayHeaders.ReservationId, ReservationId), (GatewayHeaders.Price, Price),
    ];

    /// <summary>The headers a signed request may carry besides X-Request-ID and X-Forwarded-For; none is believed unsigned.</summary>
    internal static readonly string[] SignedOnly =
    [
        GatewayHeaders.UserId, GatewayHeaders.AuthMethod, GatewayHeaders.ApiKeyId, GatewayHeaders.SessionId,
        GatewayHeaders.ReservationId, GatewayHeaders.Price, GatewayHeaders.Nonce, GatewayHeaders.Metered,
    ];
}

/// <summary>What a backend made of a request's gateway headers: unsigned (anonymous, no address), vouched for, or refused.</summary>
public sealed record GatewayVerdict(GatewayForward? Forward, string? Refusal = null, bool Unavailable = false)
{
    public static readonly GatewayVerdict Unsigned = new((GatewayForward?)null);

    public bool Refused => Refusal is not null;
}

/// <summary>Reads and checks the edge's v2 headers (v1 only while <see cref="GatewayTrustOptions.AcceptV1"/> is on).</summary>
public static class GatewayVerification
{
    private const int MaxFieldLength = 256;

    public static GatewayVerdict Verify(HttpRequest request, GatewayTrustOptions trust, GatewayReplayMemory replays, DateTimeOffset now)
    {
        var headers = request.Headers;
        if (headers[GatewayHeaders.Signature].Count == 0)
        {
            return GatewayForward.SignedOnly.Any(headers.ContainsKey)
                ? new GatewayVerdict(null, "Gateway headers without the gateway's signature.")
                : GatewayVerdict.Unsigned;
        }

        if (headers[GatewayHeaders.Signature] is [{ } v1] && v1.StartsWith("v1=", StringComparison.Ordinal))
        {
            return trust.AcceptV1 ? VerifyV1(request, trust, now) : new GatewayVerdict(null, "The v1 gateway signature is no longer accepted; the edge signs v2.");
        }

        string? One(string name, bool required)
        {
            var values = headers[name];
            return values.Count switch
            {
                0 => required ? null : "",
                1 when values[0] is { Length: <= MaxFieldLength } value && (value.Length > 0 || !required) => value,
                _ => null,
            };
        }

        var fields = new[]
        {
            One(GatewayHeaders.Signature, true), One(GatewayHeaders.RequestId, true), One(GatewayHeaders.Nonce, true),
            One(GatewayHeaders.Timestamp, true), One(GatewayHeaders.ForwardedFor, false), One(GatewayHeaders.UserId, false),
            One(GatewayHeaders.AuthMethod, false), One(GatewayHeaders.ApiKeyId, false), One(GatewayHeaders.SessionId, false),
            One(GatewayHeaders.ReservationId, false), One(GatewayHeaders.Price, false),
        };
        if (fields.Any(f => f is null) || headers.ContainsKey(GatewayHeaders.Metered)
            || !long.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp))
        {
            return new GatewayVerdict(null, "A gateway header is missing, repeated or malformed.");
        }

        var forward = new GatewayForward(request.Method, (request.Path.Value ?? "/") + request.QueryString.Value, fields[1]!, fields[2]!,
            timestamp, fields[4]!, fields[5]!, fields[6]!, fields[7]!, fields[8]!, fields[9]!, fields[10]!);
        var age = now - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(timestamp, 0, 253402300799));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(forward.Sign(trust.Secret)), Encoding.ASCII.GetBytes(fields[0]!))
            || age.Duration() > TimeSpan.FromSeconds(trust.MaxAgeSeconds))
        {
            return new GatewayVerdict(null, "The gateway signature does not match the request or has expired.");
        }

        if (Inconsistent(forward) is { } why)
        {
            return new GatewayVerdict(null, why);
        }

        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsOptions(request.Method))
        {
            switch (replays.Remember(forward.Nonce, timestamp + trust.MaxAgeSeconds))
            {
                case GatewayReplayMemory.Outcome.Replayed:
                    return new GatewayVerdict(null, "This signed request was already received.");
                case GatewayReplayMemory.Outcome.Full:
                    return new GatewayVerdict(null, "Too many signed requests to remember right now; try again shortly.", Unavailable: true);
            }
        }

        return new GatewayVerdict(forward);
    }

    /// <summary>What no edge sends even correctly signed: no default for any field, and nothing that does not belong.</summary>
    private static string? Inconsistent(GatewayForward f)
    {
        if (f.ClientAddress.Length > 0 && !IPAddress.TryParse(f.ClientAddress, out _))
        {
            return "X-Forwarded-For is not one address.";
        }

        if (f.UserId.Length == 0)
        {
            return f.AuthMethod.Length + f.ApiKeyId.Length + f.SessionId.Length + f.ReservationId.Length + f.Price.Length == 0
                ? null
                : "Identity headers without a user.";
        }

        var method = f.AuthMethod switch
        {
            "jwt" => f.ApiKeyId.Length == 0,
            "api_key" => f.ApiKeyId.Length > 0,
            _ => false,
        };
        var charge = (f.ReservationId.Length == 0 && f.Price.Length == 0)
            || (Guid.TryParse(f.ReservationId, out _) && long.TryParse(f.Price, NumberStyles.None, CultureInfo.InvariantCulture, out _));
        return !Guid.TryParse(f.UserId, out _) ? "X-User-ID is not a user id."
            : !method ? "X-Auth-Method is missing or does not match X-Api-Key-Id."
            : !charge ? "X-Gateway-Reservation and X-Gateway-Price go together."
            : null;
    }

    /// <summary>
    /// The transitional v1 check (method, path, user id, timestamp; the client address under its own signature), for one
    /// rolling deploy only (docs/deploy.md): read as v1 read it, X-Auth-Method defaulting to jwt, a metered call's reservation
    /// unknown. Never replay-checked: v1 carries no nonce.
    /// </summary>
    private static GatewayVerdict VerifyV1(HttpRequest request, GatewayTrustOptions trust, DateTimeOffset now)
    {
        var headers = request.Headers;
        var maxAge = TimeSpan.FromSeconds(trust.MaxAgeSeconds);
        var path = request.Path.Value ?? "/";
        var timestamp = headers[GatewayHeaders.Timestamp].Count == 1 ? headers[GatewayHeaders.Timestamp][0] : null;
        var forwarded = headers[GatewayHeaders.ForwardedFor];
        var client = forwarded.Count == 1 && IPAddress.TryParse(forwarded[0], out _) && headers[GatewayHeaders.ClientSignature].Count == 1
            && GatewayHeaders.VerifyV1(timestamp, headers[GatewayHeaders.ClientSignature][0], now, maxAge,
                seconds => GatewayHeaders.SignClientV1(trust.Secret, request.Method, path, forwarded[0]!, seconds))
            ? forwarded[0]! : "";
        var user = headers[GatewayHeaders.UserId] is [{ } id] ? id : null;
        if (user is null || !Guid.TryParse(user, out _)
            || !GatewayHeaders.VerifyV1(timestamp, headers[GatewayHeaders.Signature][0], now, maxAge,
                seconds => GatewayHeaders.SignV1(trust.Secret, request.Method, path, user, seconds)))
        {
            return new GatewayVerdict(null, "X-User-ID without a valid gateway signature.");
        }

        var apiKey = headers[GatewayHeaders.ApiKeyId].FirstOrDefault() ?? "";
        var metered = string.Equals(headers[GatewayHeaders.Metered].FirstOrDefault(), "true", StringComparison.OrdinalIgnoreCase);
        return new GatewayVerdict(new GatewayForward(request.Method, path + request.QueryString.Value,
            headers[GatewayHeaders.RequestId].FirstOrDefault() ?? "", "", long.Parse(timestamp!, CultureInfo.InvariantCulture), client, user,
            headers[GatewayHeaders.AuthMethod].FirstOrDefault() ?? "jwt", apiKey,
            headers[GatewayHeaders.SessionId].FirstOrDefault() is { Length: <= 100 } session ? session : "",
            metered ? Guid.Empty.ToString() : "", metered ? "0" : ""));
    }
}

/// <summary>
/// The nonces of the state-changing signed requests this replica received within the signature window: a second
/// request with a nonce still remembered is a replay and refused. Bounded by construction and by a cap: an entry lives
/// until its signature expires (its timestamp plus <see cref="GatewayTrustOptions.MaxAgeSeconds"/>; expired entries are
/// swept at most once a second), and at most <see cref="GatewayTrustOptions.ReplayCapacity"/> are held (about 150 bytes
/// each). At the cap it fails closed: state-changing requests are refused 503 until entries expire (only the edge can
/// produce validly signed requests, so reaching it means more than the cap per window from the edge). Per replica: a
/// replay sent to another replica of the same service is not seen by this one.
/// </summary>
public sealed class GatewayReplayMemory(int capacity, TimeProvider clock)
{
    public enum Outcome
    {
        New,
        Replayed,
        Full,
    }

    private readonly ConcurrentDictionary<string, long> seen = new(StringComparer.Ordinal);
    private int count;
    private long nextSweep;

    public int Count => Volatile.Read(ref count);

    public Outcome Remember(string nonce, long expiresAt)
    {
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        var sweepAt = Interlocked.Read(ref nextSweep);
        if (now >= sweepAt && Interlocked.CompareExchange(ref nextSweep, now + 1, sweepAt) == sweepAt)
        {
            foreach (var entry in seen)
            {
                if (entry.Value < now && seen.TryRemove(entry))
                {
                    Interlocked.Decrement(ref count);
                }
            }
        }

        if (seen.ContainsKey(nonce))
        {
            return Outcome.Replayed;
        }

        if (Interlocked.Increment(ref count) > capacity)
        {
            Interlocked.Decrement(ref count);
            return Outcome.Full;
        }

        if (!seen.TryAdd(nonce, expiresAt))
        {
            Interlocked.Decrement(ref count);
            return Outcome.Replayed;
        }

        return Outcome.New;
    }
}
