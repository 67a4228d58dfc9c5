using System.Security.Cryptography;
using System.Text;

namespace Timepoint.Flash.Stub.Timepoints;

/// <summary>
/// SplitMix64 seeded from SHA-256 of a text: the same text gives the same sequence on every machine and .NET version,
/// which <see cref="Random"/> does not promise.
/// </summary>
public sealed class SeededRandom(ulong seed)
{
    private ulong state = seed;

    public static SeededRandom From(string text) =>
        new(BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0));

    public ulong NextUInt64()
    {
        var z = state += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>).</summary>
    public int Next(int min, int max) => min + (int)(NextUInt64() % (ulong)(max - min));

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(0, items.Count)];

    /// <summary><paramref name="count"/> distinct items, in a seeded order.</summary>
    public List<T> PickDistinct<T>(IReadOnlyList<T> items, int count)
    {
        var pool = items.ToList();
        var picked = new List<T>(count);
        for (var i = 0; i < count && pool.Count > 0; i++)
        {
            var index = Next(0, pool.Count);
            picked.Add(pool[index]);
            pool.RemoveAt(index);
        }

        return picked;
    }
}
