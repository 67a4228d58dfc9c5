using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace Timepoint.AppHost;

/// <summary>AppHost settings handed on to a resource, for tests and tuning.</summary>
public static class ResourceSettings
{
    /// <summary>
    /// Lets trusted callers ask the Flash stub to fail (X-Flash-Fail) when the AppHost is started with
    /// <c>Flash:FailureInjection=true</c>, as the end-to-end tests do; off for an ordinary run.
    /// </summary>
    public static IResourceBuilder<T> WithFailureInjection<T>(this IResourceBuilder<T> resource, IConfiguration configuration)
        where T : IResourceWithEnvironment =>
        string.Equals(configuration["Flash:FailureInjection"], "true", StringComparison.OrdinalIgnoreCase)
            ? resource.WithEnvironment("Flash__FailureInjection__AllowRequestSwitch", "true")
                .WithEnvironment("Flash__FailureInjection__DelaySeconds", "45")
            : resource;

    /// <summary>With <c>Flash:FailureInjection=true</c>, the edge lets X-Flash-Fail through to flash; otherwise it removes it.</summary>
    public static IResourceBuilder<T> WithFailureInjectionForwarded<T>(this IResourceBuilder<T> gateway, IConfiguration configuration)
        where T : IResourceWithEnvironment =>
        string.Equals(configuration["Flash:FailureInjection"], "true", StringComparison.OrdinalIgnoreCase)
            ? gateway.WithEnvironment("Gateway__ForwardFailureInjection", "true")
            : gateway;

    /// <summary>Passes an AppHost setting (e.g. <c>Gateway:UpstreamTimeout</c>) to the resource when it is set.</summary>
    public static IResourceBuilder<T> WithSettingFrom<T>(this IResourceBuilder<T> resource, IConfiguration configuration,
        string key) where T : IResourceWithEnvironment =>
        configuration[key] is { Length: > 0 } value ? resource.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value) : resource;
}
