using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;
using Timepoint.Identity.Data;

namespace Timepoint.Identity.Tokens;

/// <summary>
/// Token signing and encryption certificates, kept in identitydb (private keys protected by data protection) so that
/// every replica and every restart signs with the same keys. Rotation adds a certificate whose validity starts later:
/// it is published in JWKS at once and OpenIddict signs with it only once it is valid; the old one stays published
/// until the access tokens it signed have expired.
/// </summary>
public sealed class SigningKeyStore(
    IServiceScopeFactory scopes,
    IDataProtectionProvider dataProtection,
    IOptionsMonitorCache<OpenIddictServerOptions> serverOptionsCache,
    IOptions<TokenOptions> options,
    TimeProvider clock,
    ILogger<SigningKeyStore> logger) : IStartupSeeder
{
    public const string Signing = "sig";
    public const string Encryption = "enc";

    private readonly IDataProtector protector = dataProtection.CreateProtector("Timepoint.Identity.SigningKeys");
    private volatile Snapshot current = new([], DateTimeOffset.MaxValue);

    /// <summary>Certificates currently published, newest first.</summary>
    public IReadOnlyList<(string Use, X509Certificate2 Certificate)> Certificates => current.Certificates;

    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        var now = clock.GetUtcNow();
        foreach (var use in new[] { Signing, Encryption })
        {
            if (!await db.SigningKeys.AnyAsync(k => k.Use == use && k.NotBefore <= now && k.RetireAfter == null, cancellationToken))
            {
                db.SigningKeys.Add(Create(use, now));
                logger.LogInformation("Created the first token {Use} key", use);
            }
        }

        await db.SaveChangesAsync(cancellationToken);
        await ReloadAsync(cancellationToken);
    }

    /// <summary>Adds a signing key that signs after the publish lead time; the current one retires after its tokens expire.</summary>
    public async Task<SigningKey> RotateAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        var now = clock.GetUtcNow();
        var next = Create(Signing, now + options.Value.KeyPublishLead);
        var retireAfter = next.NotBefore + options.Value.AccessTokenLifetime + TimeSpan.FromMinutes(5);
        foreach (var key in await db.SigningKeys.Where(k => k.Use == Signing && k.RetireAfter == null).ToListAsync(cancellationToken))
        {
            key.RetireAfter = retireAfter;
        }

        db.SigningKeys.Add(next);
        await db.SaveChangesAsync(cancellationToken);
        logger.LogWarning("Token signing key rotated: the new key signs from {NotBefore}", next.NotBefore);
        await ReloadAsync(cancellationToken);
        return next;
    }

    /// <summary>Re-reads the keys; rebuilds OpenIddict's options when the set changed or a pending key became valid.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        var now = clock.GetUtcNow();
        var rows = (await db.SigningKeys.AsNoTracking().ToListAsync(cancellationToken))
            .Where(k => k.RetireAfter is null || k.RetireAfter > now)
            .OrderByDescending(k => k.NotBefore)
            .ToList();

        var ids = rows.Select(r => r.Id).ToHashSet();
        var old = current;
        if (ids.SetEquals(old.Ids) && now < old.NextChange)
        {
            return;
        }

        List<(string, X509Certificate2)> certificates = [];
        foreach (var row in rows)
        {
            try
            {
                certificates.Add((row.Use, X509CertificateLoader.LoadPkcs12(protector.Unprotect(row.ProtectedPfx), null,
                    X509KeyStorageFlags.EphemeralKeySet)));
            }
            catch (CryptographicException ex)
            {
                // Its data-protection key is gone: the key is unusable, and tokens it signed can no longer be checked.
                logger.LogError(ex, "Token {Use} key {KeyId} cannot be unprotected and is skipped", row.Use, row.Id);
            }
        }

        var nextChange = rows.Select(r => r.NotBefore).Concat(rows.Where(r => r.RetireAfter is not null).Select(r => r.RetireAfter!.Value))
            .Where(t => t > now).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
        current = new Snapshot(certificates, nextChange) { Ids = ids };
        serverOptionsCache.TryRemove(Options.DefaultName);
    }

    private SigningKey Create(string use, DateTimeOffset notBefore)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN=Timepoint token {(use == Signing ? "signing" : "encryption")}", rsa,
            HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            use == Signing ? X509KeyUsageFlags.DigitalSignature : X509KeyUsageFlags.KeyEncipherment, critical: true));
        var notAfter = notBefore + options.Value.KeyLifetime;
        using var certificate = request.CreateSelfSigned(notBefore, notAfter);
        return new SigningKey
        {
            Use = use,
            NotBefore = notBefore,
            NotAfter = notAfter,
            CreatedAt = clock.GetUtcNow(),
            ProtectedPfx = protector.Protect(certificate.Export(X509ContentType.Pkcs12)),
        };
    }

    private sealed record Snapshot(IReadOnlyList<(string Use, X509Certificate2 Certificate)> Certificates, DateTimeOffset NextChange)
    {
        public HashSet<Guid> Ids { get; init; } = [];
    }

    /// <summary>Hands the stored certificates to OpenIddict each time its options are (re)built.</summary>
    public sealed class ConfigureServer(SigningKeyStore store) : IConfigureOptions<OpenIddictServerOptions>
    {
        public void Configure(OpenIddictServerOptions options)
        {
            foreach (var (use, certificate) in store.Certificates)
            {
                var key = new X509SecurityKey(certificate);
                if (use == Signing)
                {
                    options.SigningCredentials.Add(new SigningCredentials(key, SecurityAlgorithms.RsaSha256));
                }
                else
                {
                    options.EncryptionCredentials.Add(new EncryptingCredentials(key, SecurityAlgorithms.RsaOAEP,
                        SecurityAlgorithms.Aes256CbcHmacSha512));
                }
            }
        }
    }

    /// <summary>Picks up keys rotated by another replica, and pending keys as they become valid.</summary>
    public sealed class Refresher(SigningKeyStore store, IOptions<TokenOptions> options, ILogger<Refresher> logger) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            using var timer = new PeriodicTimer(options.Value.KeyRefreshInterval);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await store.ReloadAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Could not refresh token keys; keeping the current ones");
                }
            }
        }
    }
}
