using Microsoft.EntityFrameworkCore;

namespace Timepoint.Identity.Data;

public sealed class IdentityDbContext(DbContextOptions<IdentityDbContext> options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();

    public DbSet<ExternalLogin> ExternalLogins => Set<ExternalLogin>();

    public DbSet<SigningKey> SigningKeys => Set<SigningKey>();

    public DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<SessionRevocation> SessionRevocations => Set<SessionRevocation>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        // OpenIddict's applications, authorizations, scopes and tokens live beside the users.
        modelBuilder.UseOpenIddict();

        modelBuilder.Entity<User>(user =>
        {
            user.ToTable("users");
            user.HasKey(u => u.Id);
            user.Property(u => u.Email).HasMaxLength(320);
            user.HasIndex(u => u.Email).IsUnique().HasFilter("\"Email\" IS NOT NULL");
            user.Property(u => u.DisplayName).HasMaxLength(100);
            user.Property(u => u.AvatarUrl).HasMaxLength(2048);
            user.Property(u => u.Tier).HasMaxLength(16);
            user.HasIndex(u => u.TierChangedAt).HasFilter("\"TierChangedAt\" IS NOT NULL");
            user.HasMany(u => u.Logins).WithOne().HasForeignKey(l => l.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<ExternalLogin>(login =>
        {
            login.ToTable("external_logins");
            login.HasKey(l => new { l.Provider, l.Subject });
            login.Property(l => l.Provider).HasMaxLength(32);
            login.Property(l => l.Subject).HasMaxLength(255);
            login.Property(l => l.Email).HasMaxLength(320);
            login.HasIndex(l => l.UserId);
        });

        modelBuilder.Entity<SigningKey>(key =>
        {
            key.ToTable("signing_keys");
            key.HasKey(k => k.Id);
            key.Property(k => k.Use).HasMaxLength(8);
            key.HasIndex(k => new { k.Use, k.NotBefore });
        });

        modelBuilder.Entity<OutboxMessage>(message =>
        {
            message.ToTable("outbox");
            message.HasKey(m => m.Id);
            message.Property(m => m.Kind).HasMaxLength(64);
            message.HasIndex(m => new { m.Kind, m.UserId }).IsUnique();
            message.HasIndex(m => m.NextAttemptAt);
        });

        modelBuilder.Entity<ApiKey>(key =>
        {
            key.ToTable("api_keys");
            key.HasKey(k => k.Id);
            key.Property(k => k.Name).HasMaxLength(100);
            key.Property(k => k.Hash).HasMaxLength(64);
            key.HasIndex(k => k.Hash).IsUnique();
            key.Property(k => k.Prefix).HasMaxLength(16);
            key.HasIndex(k => k.UserId);
            key.Property(k => k.CreditLimitPeriod).HasMaxLength(8);
            key.HasOne<User>().WithMany().HasForeignKey(k => k.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        // No foreign key to users: a deleted user's sessions must stay refused after the user is gone.
        modelBuilder.Entity<SessionRevocation>(revocation =>
        {
            revocation.ToTable("session_revocations");
            revocation.HasKey(r => r.SessionId);
            revocation.Property(r => r.SessionId).HasMaxLength(100);
            revocation.Property(r => r.Reason).HasMaxLength(32);
            revocation.HasIndex(r => r.RevokedAt);
            revocation.HasIndex(r => r.ExpiresAt);
        });
    }
}
