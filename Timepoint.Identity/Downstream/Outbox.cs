using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Refit;
using Timepoint.Identity.Data;

namespace Timepoint.Identity.Downstream;

public interface ICreditsInternalApi
{
    /// <summary>Opens the account and grants the signup bonus, exactly once however often it is called.</summary>
    [Post("/internal/credits/accounts")]
    Task EnsureAccountAsync([Body] AccountRequest request, CancellationToken cancellationToken);

    [Delete("/internal/credits/users/{userId}")]
    Task DeleteUserAsync(Guid userId, CancellationToken cancellationToken);

    /// <summary>The user's balance and whole ledger, for the account export.</summary>
    [Get("/internal/credits/users/{userId}/export")]
    Task<JsonElement> ExportUserAsync(Guid userId, CancellationToken cancellationToken);

    /// <summary>What each of the user's API keys spent today, this month and ever: <c>[{api_key_id, day, month, total}]</c>.</summary>
    [Get("/internal/credits/users/{userId}/api-keys/spending")]
    Task<JsonElement> KeySpendingAsync(Guid userId, CancellationToken cancellationToken);

    /// <summary>One key's days: <c>[{date, requests, refused, credits_charged}]</c>, every day of the range.</summary>
    [Get("/internal/credits/users/{userId}/api-keys/{keyId}/usage")]
    Task<JsonElement> KeyUsageAsync(Guid userId, Guid keyId, [Query] string from, [Query] string to, CancellationToken cancellationToken);
}

public interface IFlashInternalApi
{
    [Delete("/internal/users/{userId}")]
    Task DeleteUserAsync(Guid userId, CancellationToken cancellationToken);

    /// <summary>The user's timepoints, for the account export.</summary>
    [Get("/internal/users/{userId}/export")]
    Task<JsonElement> ExportUserAsync(Guid userId, CancellationToken cancellationToken);
}

/// <summary>Pro Cloud's calls for a user's data (its service key; the stub keeps recent jobs in memory).</summary>
public interface IProInternalApi
{
    [Delete("/internal/users/{userId}")]
    Task DeleteUserAsync(Guid userId, CancellationToken cancellationToken);

    /// <summary>The user's simulations, for the account export.</summary>
    [Get("/internal/users/{userId}/export")]
    Task<JsonElement> ExportUserAsync(Guid userId, CancellationToken cancellationToken);
}

public sealed record AccountRequest(Guid UserId);

/// <summary>
/// Calls to other services that must happen even if they are down right now: written in the same transaction as the
/// change that needs them, delivered by <see cref="OutboxDelivery"/> with retries; a message that fails
/// <see cref="OutboxOptions.MaxAttempts"/> times becomes a dead letter, kept until an operator retries it.
/// </summary>
public sealed class Outbox(TimeProvider clock)
{
    public const string SignupBonus = "credits.signup_bonus";
    public const string DeleteCredits = "credits.delete_user";
    public const string DeleteFlash = "flash.delete_user";
    public const string DeletePro = "pro.delete_user";

    private readonly SemaphoreSlim signal = new(0);

    public void Enqueue(IdentityDbContext db, string kind, Guid userId)
    {
        var now = clock.GetUtcNow();
        db.Outbox.Add(new OutboxMessage { Kind = kind, UserId = userId, CreatedAt = now, NextAttemptAt = now });
    }

    /// <summary>Wakes the delivery loop after a commit, so the usual case takes milliseconds, not a poll interval.</summary>
    public void Signal()
    {
        if (signal.CurrentCount == 0)
        {
            signal.Release();
        }
    }

    internal Task WaitAsync(TimeSpan timeout, CancellationToken ct) => signal.WaitAsync(timeout, ct);
}

public sealed class OutboxDelivery(IServiceScopeFactory scopes, Outbox outbox, OutboxMonitor monitor, IOptions<OutboxOptions> options,
    TimeProvider clock, ILogger<OutboxDelivery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await DeliverBatchAsync(stoppingToken) > 0)
                {
                }

                await using var scope = scopes.CreateAsyncScope();
                await monitor.ReadAsync(scope.ServiceProvider.GetRequiredService<IdentityDbContext>(), stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Outbox delivery pass failed; retrying");
            }

            await outbox.WaitAsync(options.Value.PollInterval, stoppingToken);
        }
    }

    /// <summary>Delivers due messages; FOR UPDATE SKIP LOCKED lets several replicas share the work without doing it twice.</summary>
    private async Task<int> DeliverBatchAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        var now = clock.GetUtcNow();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var due = await db.Outbox
            .FromSql($"SELECT * FROM outbox WHERE \"DeadAt\" IS NULL AND \"NextAttemptAt\" <= {now} ORDER BY \"NextAttemptAt\" LIMIT 20 FOR UPDATE SKIP LOCKED")
            .ToListAsync(ct);
        var delivered = 0;
        foreach (var message in due)
        {
            try
            {
                await DeliverAsync(scope.ServiceProvider, message, ct);
                db.Outbox.Remove(message);
                monitor.Delivered(message.Kind, "delivered");
                delivered++;
            }
            catch (Exception ex) when (ex is HttpRequestException or ApiException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                Failed(message, ex, now);
            }
        }

        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return delivered;
    }

    /// <summary>Tries again later with a doubling delay, until <see cref="OutboxOptions.MaxAttempts"/>: then it is a dead letter.</summary>
    private void Failed(OutboxMessage message, Exception ex, DateTimeOffset now)
    {
        var settings = options.Value;
        message.Attempts++;
        message.LastError = ex.Message.Length > 500 ? ex.Message[..500] : ex.Message;
        if (message.Attempts >= settings.MaxAttempts)
        {
            message.DeadAt = now;
            monitor.Delivered(message.Kind, "dead_lettered");
            logger.LogError("Outbox {Kind} for {UserId} failed {Attempts} times and is a dead letter now; retry it from the dashboard "
                + "(identity: Retry outbox dead letters) once the cause is fixed. Last error: {Error}",
                message.Kind, message.UserId, message.Attempts, message.LastError);
            return;
        }

        var delay = TimeSpan.FromSeconds(Math.Pow(2, message.Attempts));
        message.NextAttemptAt = now + (delay < settings.MaxBackoff ? delay : settings.MaxBackoff);
        monitor.Delivered(message.Kind, "failed");
        logger.LogWarning("Outbox {Kind} for {UserId} failed (attempt {Attempts} of {MaxAttempts}); next try at {Next}: {Error}",
            message.Kind, message.UserId, message.Attempts, settings.MaxAttempts, message.NextAttemptAt, message.LastError);
    }

    private static Task DeliverAsync(IServiceProvider services, OutboxMessage message, CancellationToken ct) => message.Kind switch
    {
        Outbox.SignupBonus => services.GetRequiredService<ICreditsInternalApi>().EnsureAccountAsync(new AccountRequest(message.UserId), ct),
        Outbox.DeleteCredits => services.GetRequiredService<ICreditsInternalApi>().DeleteUserAsync(message.UserId, ct),
        Outbox.DeleteFlash => services.GetRequiredService<IFlashInternalApi>().DeleteUserAsync(message.UserId, ct),
        Outbox.DeletePro => services.GetRequiredService<IProInternalApi>().DeleteUserAsync(message.UserId, ct),
        _ => throw new InvalidOperationException($"Unknown outbox message kind '{message.Kind}'."),
    };
}
