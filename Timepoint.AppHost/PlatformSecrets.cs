using Aspire.Hosting.ApplicationModel;

namespace Timepoint.AppHost;

/// <summary>A service's own keys: X-Service-Key for service-to-service calls, X-Admin-Key for admin operations.</summary>
public sealed record ServiceKeys(IResourceBuilder<ParameterResource> ServiceKey, IResourceBuilder<ParameterResource> AdminKey);

public static class PlatformSecrets
{
    /// <summary>
    /// A secret parameter, generated (and kept in the AppHost's user secrets) for development when not set;
    /// set it as <c>Parameters__{name}</c> or in the <c>Parameters</c> configuration section.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddSecret(this IDistributedApplicationBuilder builder, string name) =>
        builder.AddParameter(name, new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true, persist: true);

    public static ServiceKeys AddServiceKeys(this IDistributedApplicationBuilder builder, string service) =>
        new(builder.AddSecret($"{service}-service-key"), builder.AddSecret($"{service}-admin-key"));

    /// <summary>The secret the gateway signs forwarded identity with, and backends verify it with.</summary>
    public static IResourceBuilder<T> WithGatewayTrust<T>(this IResourceBuilder<T> resource, IResourceBuilder<ParameterResource> signingSecret)
        where T : IResourceWithEnvironment =>
        resource.WithEnvironment("GatewayTrust__Secret", signingSecret);

    /// <summary>The keys this service checks on incoming X-Service-Key and X-Admin-Key headers.</summary>
    public static IResourceBuilder<T> WithOwnKeys<T>(this IResourceBuilder<T> resource, ServiceKeys keys)
        where T : IResourceWithEnvironment =>
        resource
            .WithEnvironment("Security__ServiceKey", keys.ServiceKey)
            .WithEnvironment("Security__AdminKey", keys.AdminKey);

    /// <summary>The service key this resource presents when it calls <paramref name="target"/>.</summary>
    public static IResourceBuilder<T> WithServiceKeyFor<T>(this IResourceBuilder<T> resource, string target, ServiceKeys keys)
        where T : IResourceWithEnvironment =>
        resource.WithEnvironment($"Downstream__{target}__ServiceKey", keys.ServiceKey);
}
