using System.Collections.Concurrent;

namespace Timepoint.Gateway.Auth;

/// <summary>
/// Client addresses whose budget of unknown API keys is spent, with the end of that window (this replica's memory): until
/// then their keys are not looked up at identity, unless the verdict is already known here (<see cref="EdgeAuthentication"/>).
/// <para>
/// Bounded: at most <see cref="Capacity"/> addresses (about 100 bytes each). An ended window is dropped when it is next
/// asked about, and all ended ones are swept when the map is full. When every entry is still live at the cap, a new
/// address is not remembered: its guesses are still refused by the shared limiter, each one after a look-up at identity
/// (never looser; it costs identity a look-up per guess only from addresses beyond the cap).
/// </para>
/// </summary>
public sealed class GuessingAddresses(TimeProvider clock, int capacity = GuessingAddresses.DefaultCapacity)
{
    public const int DefaultCapacity = 100_000;

    private readonly ConcurrentDictionary<string, long> addresses = new(StringComparer.Ordinal);

    public int Capacity => capacity;

    public int Count => addresses.Count;

    /// <summary>The refusal of an address whose budget of unknown keys is spent in this window; null if it is not.</summary>
    public RateDecision? Refusal(string address, int limit)
    {
        if (!addresses.TryGetValue(address, out var resetAt))
        {
            return null;
        }

        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        if (resetAt <= now)
        {
            addresses.TryRemove(new KeyValuePair<string, long>(address, resetAt));
            return null;
        }

        return new RateDecision(false, limit, 0, resetAt, (int)(resetAt - now));
    }

    /// <summary>Remembers that the address is refused until <paramref name="resetAt"/>; false when full of live windows.</summary>
    public bool Remember(string address, long resetAt)
    {
        if (addresses.Count >= capacity && !addresses.ContainsKey(address))
        {
            var now = clock.GetUtcNow().ToUnixTimeSeconds();
            foreach (var (stale, until) in addresses)
            {
                if (until <= now)
                {
                    addresses.TryRemove(new KeyValuePair<string, long>(stale, until));
                }
            }

            if (addresses.Count >= capacity)
            {
                return false;
            }
        }

        addresses[address] = resetAt;
        return true;
    }
}
