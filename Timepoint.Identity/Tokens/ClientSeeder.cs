using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using Timepoint.Identity.Data;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Timepoint.Identity.Tokens;

/// <summary>Section <c>Identity:Clients</c>: OAuth clients registered from configuration (secrets never in code).</summary>
public sealed class ClientRegistrations
{
    public const string Section = "Identity:Clients";

    public List<ClientRegistration> Clients { get; set; } = [];
}

public sealed class ClientRegistration
{
    public string ClientId { get; set; } = "";

    /// <summary>Set for a confidential service client (client_credentials); empty for a public app (authorization code + PKCE).</summary>
    public string? ClientSecret { get; set; }

    public List<string> RedirectUris { get; set; } = [];

    public List<string> Scopes { get; set; } = [];
}

/// <summary>Creates or updates the configured clients at start.</summary>
public sealed class ClientSeeder(IOpenIddictApplicationManager applications, IOptions<ClientRegistrations> registrations) : IStartupSeeder
{
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        foreach (var client in registrations.Value.Clients.Where(c => !string.IsNullOrWhiteSpace(c.ClientId)))
        {
            var descriptor = new OpenIddictApplicationDescriptor { ClientId = client.ClientId, DisplayName = client.ClientId };
            if (string.IsNullOrEmpty(client.ClientSecret))
            {
                descriptor.ClientType = ClientTypes.Public;
                descriptor.Permissions.UnionWith([Permissions.Endpoints.Authorization, Permissions.Endpoints.Token,
                    Permissions.GrantTypes.AuthorizationCode, Permissions.GrantTypes.RefreshToken, Permissions.ResponseTypes.Code]);
                descriptor.Requirements.Add(Requirements.Features.ProofKeyForCodeExchange);
                descriptor.RedirectUris.UnionWith(client.RedirectUris.Select(u => new Uri(u)));
            }
            else
            {
                descriptor.ClientType = ClientTypes.Confidential;
                descriptor.ClientSecret = client.ClientSecret;
                descriptor.Permissions.UnionWith([Permissions.Endpoints.Token, Permissions.GrantTypes.ClientCredentials]);
            }

            descriptor.Permissions.UnionWith(client.Scopes.Select(s => Permissions.Prefixes.Scope + s));
            var existing = await applications.FindByClientIdAsync(client.ClientId, cancellationToken);
            if (existing is null)
            {
                await applications.CreateAsync(descriptor, cancellationToken);
            }
            else
            {
                await applications.UpdateAsync(existing, descriptor, cancellationToken);
            }
        }
    }
}
