using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// API keys: <c>tp_gw_</c> + 24 base62 characters of CSPRNG randomness (over 142 bits) + 6 base62 characters of CRC-32
/// checksum over the random part. The edge rejects a malformed or mistyped key without any lookup; identity stores
/// only <see cref="Hash"/>.
/// </summary>
public static class ApiKeyFormat
{
    public const string Prefix = "tp_gw_";
    public const int RandomLength = 24;
    public const int ChecksumLength = 6;
    public const int Length = 6 + RandomLength + ChecksumLength;
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static string Generate()
    {
        var random = RandomNumberGenerator.GetString(Alphabet, RandomLength);
        return Prefix + random + Checksum(random);
    }

    /// <summary>Shape and checksum only; says nothing about whether the key exists.</summary>
    public static bool IsWellFormed(string? key)
    {
        if (key is null || key.Length != Length || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var body = key.AsSpan(Prefix.Length);
        foreach (var c in body)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return body[RandomLength..].SequenceEqual(Checksum(body[..RandomLength].ToString()));
    }

    /// <summary>Lowercase hex SHA-256 of the whole key: what identity stores and what caches are keyed by.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The part shown in listings so a user can tell keys apart (prefix and the first 4 random characters).</summary>
    public static string DisplayPrefix(string key) => key[..(Prefix.Length + 4)];

    private static string Checksum(string random)
    {
        var value = Crc32.HashToUInt32(Encoding.ASCII.GetBytes(random));
        Span<char> chars = stackalloc char[ChecksumLength];
        for (var i = ChecksumLength - 1; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(value % 62)];
            value /= 62;
        }

        return new string(chars);
    }
}
