using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Primitives;

namespace Timepoint.Gateway.Proxy;

/// <summary>
/// The address of the client a request is for, found once per request (<see cref="HeaderHygiene"/>): the connection's,
/// or, when the connection comes from a trusted proxy, the first untrusted hop of <c>X-Forwarded-For</c> read right to
/// left. Limits, budgets, the request log and the address forwarded to backends all use this one value.
/// </summary>
public sealed record ClientAddress(IPAddress? Address)
{
    public static readonly ClientAddress Unknown = new((IPAddress?)null);

    /// <summary>The address as logged and forwarded (IPv4-mapped IPv6 as IPv4), or <c>unknown</c>.</summary>
    public override string ToString() => Address?.ToString() ?? "unknown";

    /// <summary>
    /// The key of per-address limits: the address itself for IPv4, its /64 for IPv6 (one host is usually given a whole
    /// /64, so a key per /128 would be a fresh budget per address the client picks).
    /// </summary>
    public string LimitKey => Address switch
    {
        null => "unknown",
        { AddressFamily: AddressFamily.InterNetworkV6 } v6 => $"{Prefix64(v6)}/64",
        var v4 => v4.ToString(),
    };

    /// <summary>
    /// Resolves the client of a connection from <paramref name="remote"/> that sent <paramref name="forwardedFor"/> (every
    /// X-Forwarded-For header, in order). Never throws: an entry that is not an address ends the walk at the nearest
    /// trusted hop, so a malformed header can only make the edge stricter (the proxy's own address), never name a client.
    /// </summary>
    public static ClientAddress Resolve(IPAddress? remote, StringValues forwardedFor, TrustedProxies trusted)
    {
        var nearest = Normalise(remote);
        if (nearest is null || !trusted.Contains(nearest))
        {
            return new ClientAddress(nearest);
        }

        for (var h = forwardedFor.Count - 1; h >= 0; h--)
        {
            var header = forwardedFor[h].AsSpan();
            if (header.IsWhiteSpace())
            {
                continue; // an empty header names nobody
            }

            while (true)
            {
                var comma = header.LastIndexOf(',');
                var entry = header[(comma + 1)..];
                if (!TryParseHop(entry, out var hop))
                {
                    return new ClientAddress(nearest);
                }

                if (!trusted.Contains(hop))
                {
                    return new ClientAddress(hop);
                }

                nearest = hop; // another proxy of ours: keep walking left
                if (comma < 0)
                {
                    break;
                }

                header = header[..comma];
            }
        }

        // Every hop is trusted (or there was no header): the leftmost one is the best we know.
        return new ClientAddress(nearest);
    }

    /// <summary>One X-Forwarded-For entry: <c>1.2.3.4</c>, <c>1.2.3.4:5678</c>, <c>2001:db8::1</c>, <c>[2001:db8::1]:443</c>.</summary>
    public static bool TryParseHop(ReadOnlySpan<char> entry, out IPAddress address)
    {
        address = IPAddress.None;
        entry = entry.Trim();
        if (entry.IsEmpty || entry.Length > 64)
        {
            return false;
        }

        if (entry[0] == '[')
        {
            var close = entry.IndexOf(']');
            if (close < 0 || !(close == entry.Length - 1 || (entry[close + 1] == ':' && IsPort(entry[(close + 2)..]))))
            {
                return false;
            }

            entry = entry[1..close];
            if (!IPAddress.TryParse(entry, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6 || v6.ScopeId != 0)
            {
                return false;
            }

            address = Normalise(v6)!;
            return true;
        }

        var colon = entry.IndexOf(':');
        if (colon >= 0 && colon == entry.LastIndexOf(':'))
        {
            // One colon: IPv4 with a port.
            if (!IsPort(entry[(colon + 1)..]))
            {
                return false;
            }

            entry = entry[..colon];
        }

        // IPAddress.TryParse also takes "1", "0x7f.1" and scope ids: only the dotted quad and plain IPv6 are hops.
        if (!IPAddress.TryParse(entry, out var parsed)
            || (parsed.AddressFamily == AddressFamily.InterNetworkV6 && parsed.ScopeId != 0)
            || (parsed.AddressFamily == AddressFamily.InterNetwork && !IsDottedQuad(entry)))
        {
            return false;
        }

        address = Normalise(parsed)!;
        return true;
    }

    private static IPAddress Prefix64(IPAddress v6)
    {
        Span<byte> bytes = stackalloc byte[16];
        v6.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    public static IPAddress? Normalise(IPAddress? address) => address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;

    private static bool IsPort(ReadOnlySpan<char> port) =>
        port.Length is > 0 and <= 5 && int.TryParse(port, System.Globalization.NumberStyles.None, null, out var n) && n <= 65535;

    private static bool IsDottedQuad(ReadOnlySpan<char> text)
    {
        var parts = 0;
        foreach (var range in text.Split('.'))
        {
            var part = text[range];
            if (part.Length is 0 or > 3 || !int.TryParse(part, System.Globalization.NumberStyles.None, null, out var n) || n > 255)
            {
                return false;
            }

            parts++;
        }

        return parts == 4;
    }
}

/// <summary><c>Gateway:TrustedProxies</c>, parsed: addresses and CIDR networks whose X-Forwarded-For the edge reads.</summary>
public sealed class TrustedProxies
{
    public static readonly TrustedProxies None = new([]);

    private readonly IPNetwork[] networks;

    private TrustedProxies(IPNetwork[] networks) => this.networks = networks;

    public bool IsEmpty => networks.Length == 0;

    public bool Contains(IPAddress address) => networks.Any(n => n.Contains(address));

    /// <summary>Parses every entry; the ones that are neither an address nor a CIDR network come back in <paramref name="invalid"/>.</summary>
    public static TrustedProxies Parse(IEnumerable<string> entries, out List<string> invalid)
    {
        invalid = [];
        var networks = new List<IPNetwork>();
        foreach (var raw in entries)
        {
            var entry = raw.Trim();
            if (IPAddress.TryParse(entry, out var address) && !entry.Contains('/'))
            {
                address = ClientAddress.Normalise(address)!;
                networks.Add(new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            }
            else if (IPNetwork.TryParse(entry, out var network))
            {
                networks.Add(network);
            }
            else
            {
                invalid.Add(raw);
            }
        }

        return new TrustedProxies([.. networks]);
    }
}
