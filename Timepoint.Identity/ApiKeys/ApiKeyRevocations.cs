using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using StackExchange.Redis;
using Timepoint.Identity.Data;

namespace Timepoint.Identity.ApiKeys;

/// <summary>
/// Tells every gateway replica, through Redis pub/sub, that a cached verdict for a key must go:
/// <c>{"key_hash","key_id","valid_until"}</c> on <see cref="Channel"/>. A failure to publish is logged and counted,
/// never thrown: the change is already committed, and gateways cache verdicts only briefly.
/// </summary>
public sealed class ApiKeyRevocations(IConnectionMultiplexer redis, ApiKeyMetrics metrics, ILogger<ApiKeyRevocations> logger)
{
    public const string Channel = "timepoint:api-keys:revoked";

    private static readonly RedisChannel RedisChannelName = RedisChannel.Literal(Channel);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string Serialize(ApiKeyRevocation revocation) => JsonSerializer.Serialize(revocation, Json);

    public async Task PublishAsync(IReadOnlyCollection<ApiKeyRevocation> revocations)
    {
        var sent = 0;
        try
        {
            var subscriber = redis.GetSubscriber();
            foreach (var revocation in revocations)
            {
                await subscriber.PublishAsync(RedisChannelName, Serialize(revocation));
                sent++;
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning(ex, "Could not publish {Count} API key revocations; gateways drop them when their cached verdicts expire",
                revocations.Count - sent);
            metrics.Published("failed", revocations.Count - sent);
        }

        metrics.Published("sent", sent);
    }
}

/// <summary>
/// Finds, in every save of <see cref="IdentityDbContext"/>, the keys that stop working (revoked, rerolled, deleted, or
/// whose user is deleted or disabled) or whose limits changed and publishes them once the change has committed: published earlier, a gateway
/// could ask again before the commit and cache the old answer. For a deleted user the key hashes are read before the
/// delete, since the rows go with the user (cascade).
/// </summary>
public sealed class ApiKeyRevocationInterceptor(ApiKeyRevocations revocations) : ISaveChangesInterceptor, IDbTransactionInterceptor
{
    private readonly ConditionalWeakTable<DbContext, State> states = [];

    public async ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        if (eventData.Context is IdentityDbContext db)
        {
            var state = Begin(db, out var users);
            if (users.Count > 0)
            {
                state.Add(await KeysOf(db, users).ToListAsync(cancellationToken));
            }
        }

        return result;
    }

    public InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        if (eventData.Context is IdentityDbContext db)
        {
            var state = Begin(db, out var users);
            if (users.Count > 0)
            {
                state.Add(KeysOf(db, users).ToList());
            }
        }

        return result;
    }

    public async ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        // Inside the caller's transaction: wait for its commit. Otherwise the save has committed on its own.
        if (eventData.Context is { } db && states.TryGetValue(db, out var state))
        {
            state.Saving = false;
            if (db.Database.CurrentTransaction is null)
            {
                await PublishAsync(state);
            }
        }

        return result;
    }

    public int SavedChanges(SaveChangesCompletedEventData eventData, int result) =>
        SavedChangesAsync(eventData, result).AsTask().GetAwaiter().GetResult();

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default) =>
        eventData.Context is { } db && states.TryGetValue(db, out var state) ? PublishAsync(state) : Task.CompletedTask;

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) =>
        TransactionCommittedAsync(transaction, eventData).GetAwaiter().GetResult();

    public ValueTask<DbTransaction> TransactionStartedAsync(DbConnection connection, TransactionEndEventData eventData, DbTransaction result,
        CancellationToken cancellationToken = default)
    {
        // A transaction the caller starts (not the one a save opens for itself) begins with nothing pending.
        if (eventData.Context is { } db && states.TryGetValue(db, out var state) && !state.Saving)
        {
            state.Clear();
        }

        return ValueTask.FromResult(result);
    }

    public DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result) =>
        TransactionStartedAsync(connection, eventData, result).AsTask().GetAwaiter().GetResult();

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Forget(eventData.Context);
        return Task.CompletedTask;
    }

    public void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Forget(eventData.Context);

    public Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Forget(eventData.Context);
        return Task.CompletedTask;
    }

    public void SaveChangesFailed(DbContextErrorEventData eventData) => Forget(eventData.Context);

    public Task SaveChangesCanceledAsync(DbContextEventData eventData, CancellationToken cancellationToken = default)
    {
        Forget(eventData.Context);
        return Task.CompletedTask;
    }

    public void SaveChangesCanceled(DbContextEventData eventData) => Forget(eventData.Context);

    /// <summary>Collects the tracked keys that stop working, and the users whose keys all stop working.</summary>
    private State Begin(IdentityDbContext db, out List<Guid> users)
    {
        var state = states.GetOrCreateValue(db);
        state.Saving = true;
        if (db.Database.CurrentTransaction is null)
        {
            state.Clear(); // left over from a transaction that was abandoned without commit or rollback
        }

        db.ChangeTracker.DetectChanges();
        foreach (var entry in db.ChangeTracker.Entries<ApiKey>())
        {
            var key = entry.Entity;
            if (entry.State == EntityState.Deleted || (entry.State == EntityState.Modified && entry.Property(k => k.RevokedAt).IsModified && key.RevokedAt is not null))
            {
                state.Add([new ApiKeyRevocation(key.Hash, key.Id, null)]);
            }
            else if (entry.State == EntityState.Modified && entry.Property(k => k.ValidUntil).IsModified && key.ValidUntil is not null)
            {
                state.Add([new ApiKeyRevocation(key.Hash, key.Id, key.RevokedAt is null ? key.ValidUntil : null)]);
            }
            else if (entry.State == EntityState.Modified && (entry.Property(k => k.RateLimitPerMinute).IsModified
                || entry.Property(k => k.CreditLimit).IsModified || entry.Property(k => k.CreditLimitPeriod).IsModified))
            {
                // New limits: the cached verdict goes, and the key keeps working until its own end.
                state.Add([new ApiKeyRevocation(key.Hash, key.Id, key.ExpiresAt ?? DateTimeOffset.MaxValue)]);
            }
        }

        users = [.. db.ChangeTracker.Entries<User>()
            .Where(e => e.State == EntityState.Deleted
                || (e.State == EntityState.Modified && e.Entity.Disabled && !e.Property(u => u.Disabled).OriginalValue))
            .Select(e => e.Entity.Id)];
        return state;
    }

    private static IQueryable<ApiKeyRevocation> KeysOf(IdentityDbContext db, List<Guid> users) =>
        db.ApiKeys.AsNoTracking()
            .Where(k => users.Contains(k.UserId) && k.RevokedAt == null)
            .Select(k => new ApiKeyRevocation(k.Hash, k.Id, null));

    private async Task PublishAsync(State state)
    {
        var pending = state.Take();
        if (pending.Count > 0)
        {
            await revocations.PublishAsync(pending);
        }
    }

    private void Forget(DbContext? db)
    {
        if (db is not null && states.TryGetValue(db, out var state))
        {
            state.Saving = false;
            state.Clear();
        }
    }

    /// <summary>Per context (contexts are pooled, one request at a time): what to publish at the next commit.</summary>
    private sealed class State
    {
        private readonly Dictionary<Guid, ApiKeyRevocation> pending = [];

        public bool Saving { get; set; }

        public void Add(IEnumerable<ApiKeyRevocation> revocations)
        {
            foreach (var revocation in revocations)
            {
                // A key both rerolled and revoked before the commit is refused now: the stricter message wins.
                if (!pending.TryGetValue(revocation.KeyId, out var known) || (known.ValidUntil is not null && revocation.ValidUntil is null))
                {
                    pending[revocation.KeyId] = revocation;
                }
            }
        }

        public List<ApiKeyRevocation> Take()
        {
            var taken = pending.Values.ToList();
            pending.Clear();
            return taken;
        }

        public void Clear() => pending.Clear();
    }
}
