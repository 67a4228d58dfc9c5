using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using StackExchange.Redis;

namespace Timepoint.Gateway.Metering;

public sealed record StoredOutcome(int Status, string? ContentType, byte[] Body, long Charged, long BalanceAfter);

/// <summary>First outcomes of idempotent metered requests, per user and key, kept 24 h in Redis for retries to replay.</summary>
public sealed class IdempotentOutcomes(IConnectionMultiplexer redis, ILogger<IdempotentOutcomes> logger)
{
    private static readonly TimeSpan Keep = TimeSpan.FromHours(24);

    public async Task StoreAsync(Guid userId, string key, StoredOutcome outcome)
    {
        try
        {
            await redis.GetDatabase().StringSetAsync(RedisKeyFor(userId, key), JsonSerializer.SerializeToUtf8Bytes(outcome), Keep);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException) // a timeout is also how Redis being down shows
        {
            logger.LogWarning("Could not keep the outcome of an idempotent request: {Error}", ex.Message);
        }
    }

    public async Task<StoredOutcome?> GetAsync(Guid userId, string key)
    {
        try
        {
            var value = await redis.GetDatabase().StringGetAsync(RedisKeyFor(userId, key));
            return value.IsNullOrEmpty ? null : JsonSerializer.Deserialize<StoredOutcome>((byte[])value!);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException) // a timeout is also how Redis being down shows
        {
            logger.LogWarning("Could not read the outcome of an idempotent request: {Error}", ex.Message);
            return null;
        }
    }

    /// <summary>A client's Idempotency-Key as a fixed-length name (hex SHA-256): for Redis here, and for credits.</summary>
    public static string Digest(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static RedisKey RedisKeyFor(Guid userId, string key) => $"idem:{userId}:{Digest(key)}";
}
