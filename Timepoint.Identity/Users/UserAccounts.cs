using Microsoft.EntityFrameworkCore;
using Npgsql;
using Timepoint.Identity.Data;
using Timepoint.Identity.Downstream;
using Timepoint.Identity.Sessions;

namespace Timepoint.Identity.Users;

/// <summary>A sign-in as some provider saw it.</summary>
public sealed record ExternalIdentity(string Provider, string Subject, string? Email, bool EmailVerified, string? DisplayName,
    string? AvatarUrl = null);

/// <summary>Users and their linked logins: one user per (provider, subject); a new provider joins a user only through a verified email.</summary>
public sealed class UserAccounts(
    IdentityDbContext db,
    SessionRevocations sessions,
    Outbox outbox,
    TimeProvider clock,
    ILogger<UserAccounts> logger)
{
    public Task<User?> FindAsync(Guid id, CancellationToken ct) =>
        db.Users.Include(u => u.Logins).FirstOrDefaultAsync(u => u.Id == id, ct);

    /// <summary>Finds the user behind an external login, links it to the user with the same verified email, or creates one.</summary>
    public async Task<(User User, bool Created)> ResolveAsync(ExternalIdentity identity, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await ResolveOnceAsync(identity, ct);
            }
            catch (DbUpdateException ex) when (attempt < 2 && ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                // A concurrent first sign-in of the same login (or email) won; the next pass finds its user.
                db.ChangeTracker.Clear();
            }
        }
    }

    private async Task<(User, bool)> ResolveOnceAsync(ExternalIdentity identity, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var email = identity.EmailVerified ? NormalizeEmail(identity.Email) : null;
        var login = await db.ExternalLogins.FirstOrDefaultAsync(l => l.Provider == identity.Provider && l.Subject == identity.Subject, ct);
        if (login is not null)
        {
            var known = await db.Users.FirstAsync(u => u.Id == login.UserId, ct);
            known.LastSeenAt = now;
            await db.SaveChangesAsync(ct);
            return (known, false);
        }

        var user = email is null ? null : await db.Users.FirstOrDefaultAsync(u => u.Email == email, ct);
        var created = user is null;
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        if (user is null)
        {
            user = new User
            {
                Email = email,
                DisplayName = Truncate(identity.DisplayName) ?? email?.Split('@')[0] ?? "Timepoint user",
                AvatarUrl = identity.AvatarUrl,
                CreatedAt = now,
            };
            db.Users.Add(user);
            outbox.Enqueue(db, Outbox.SignupBonus, user.Id);
        }

        user.LastSeenAt = now;
        db.ExternalLogins.Add(new ExternalLogin
        {
            Provider = identity.Provider,
            Subject = identity.Subject,
            UserId = user.Id,
            Email = NormalizeEmail(identity.Email),
            LinkedAt = now,
        });
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        if (created)
        {
            logger.LogInformation("Created user {UserId} from a {Provider} sign-in", user.Id, identity.Provider);
            outbox.Signal();
        }

        return (user, created);
    }

    /// <summary>Deletes the user here, ends every session, and queues the deletion of their data in credits, flash and pro.</summary>
    public async Task DeleteAsync(User user, CancellationToken ct)
    {
        // Sessions end first: if that cannot be written, the account stays rather than leaving its tokens working.
        await sessions.RevokeUserAsync(user.Id, RevocationReasons.Deleted, ct);
        await using (var transaction = await db.Database.BeginTransactionAsync(ct))
        {
            db.Users.Remove(user);
            outbox.Enqueue(db, Outbox.DeleteCredits, user.Id);
            outbox.Enqueue(db, Outbox.DeleteFlash, user.Id);
            outbox.Enqueue(db, Outbox.DeletePro, user.Id);
            await db.SaveChangesAsync(ct);
            await transaction.CommitAsync(ct);
        }

        outbox.Signal();
        logger.LogInformation("Deleted user {UserId}", user.Id);
    }

    public static string? NormalizeEmail(string? email) =>
        string.IsNullOrWhiteSpace(email) ? null : email.Trim().ToLowerInvariant();

    private static string? Truncate(string? name) =>
        string.IsNullOrWhiteSpace(name) ? null : name.Trim()[..Math.Min(name.Trim().Length, 100)];
}
