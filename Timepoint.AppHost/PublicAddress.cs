using Aspire.Hosting.ApplicationModel;

namespace Timepoint.AppHost;

/// <summary>The address clients know the platform by: the token issuer, discovery's endpoints, provider callbacks, cookie and HSTS policy.</summary>
public static class PublicAddress
{
    public const string ParameterName = "public-url";

    /// <summary>
    /// The parameter <c>public-url</c> (<c>Parameters:public-url</c>, e.g. <c>https://api.example.com/</c>) when it is set,
    /// and always in a published manifest (a deployment names its address); otherwise the edge's local http endpoint.
    /// </summary>
    public static ReferenceExpression AddPublicUrl(this IDistributedApplicationBuilder builder, IResourceBuilder<ProjectResource> gateway) =>
        builder.ExecutionContext.IsPublishMode || !string.IsNullOrEmpty(builder.Configuration[$"Parameters:{ParameterName}"])
            ? ReferenceExpression.Create($"{builder.AddParameter(ParameterName)}")
            : ReferenceExpression.Create($"{gateway.GetEndpoint("http")}/");

    /// <summary>Hands the public URL to a service as <paramref name="setting"/> (e.g. <c>Identity:Tokens:Issuer</c>); the service checks it at start.</summary>
    public static IResourceBuilder<T> WithPublicUrl<T>(this IResourceBuilder<T> resource, ReferenceExpression publicUrl, string setting)
        where T : IResourceWithEnvironment =>
        resource.WithEnvironment(setting.Replace(":", "__", StringComparison.Ordinal), publicUrl);
}
