using Aspire.Hosting.ApplicationModel;

namespace Timepoint.AppHost;

/// <summary>How a service's URLs read on the dashboard: a named address and its health probe.</summary>
public static class DashboardUrls
{
    /// <summary>Names the service's http URL and adds its /health next to it.</summary>
    public static IResourceBuilder<ProjectResource> WithNamedUrls(this IResourceBuilder<ProjectResource> resource, string label) =>
        resource
            .WithUrlForEndpoint("http", url => url.DisplayText = label)
            .WithUrlForEndpoint("http", endpoint => new ResourceUrlAnnotation { Url = "/health", DisplayText = "Health" });

    /// <summary>The edge also links its browsable API reference (Development only, like the page itself).</summary>
    public static IResourceBuilder<ProjectResource> WithApiReferenceUrl(this IResourceBuilder<ProjectResource> gateway) =>
        gateway.WithUrlForEndpoint("http", endpoint => new ResourceUrlAnnotation { Url = "/scalar/v1", DisplayText = "API reference" });
}
