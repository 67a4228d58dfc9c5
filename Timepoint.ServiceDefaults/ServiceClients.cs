using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Refit;

namespace Microsoft.Extensions.Hosting;

/// <summary>The key a service presents to another (<c>Downstream:{service}:ServiceKey</c>).</summary>
public sealed class DownstreamOptions
{
    [Required(ErrorMessage = "Downstream:<service>:ServiceKey must be set for every service this one calls.")]
    [MinLength(32)]
    public string ServiceKey { get; set; } = "";

    /// <summary>Overrides the service-discovery address (<c>http://{service}</c>).</summary>
    public Uri? BaseAddress { get; set; }
}

public static class ServiceClients
{
    /// <summary>
    /// A Refit client for another platform service, found by service discovery (<c>http://{service}</c>), sending that
    /// service's X-Service-Key, with the standard resilience handler every HttpClient gets from the service defaults.
    /// The key is validated at start. <paramref name="json"/> is the caller's source-generated serializer context for the
    /// API's bodies, with snake_case naming (<c>[JsonSourceGenerationOptions(PropertyNamingPolicy = SnakeCaseLower)]</c>):
    /// Refit generates the client at build time, no reflection at run time.
    /// </summary>
    public static IHttpClientBuilder AddServiceClient<TApi>(this IHostApplicationBuilder builder, string service,
        System.Text.Json.Serialization.JsonSerializerContext json) where TApi : class
    {
        builder.Services.AddOptions<DownstreamOptions>(service)
            .BindConfiguration($"Downstream:{service}")
            .ValidateDataAnnotations()
            .ValidateOnStart();

        return builder.Services.AddRefitGeneratedClient<TApi>(json)
            .ConfigureHttpClient((services, client) =>
            {
                var options = services.GetRequiredService<IOptionsMonitor<DownstreamOptions>>().Get(service);
                client.BaseAddress = options.BaseAddress ?? new Uri($"http://{service}");
                client.DefaultRequestHeaders.Add(ServiceKeyExtensions.ServiceKeyHeader, options.ServiceKey);
            });
    }
}
