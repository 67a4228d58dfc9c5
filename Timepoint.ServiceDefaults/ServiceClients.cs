using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Refit;

namespace Microsoft.Extensions.Hosting;

/// <summary>The key a service presents to another (<c>Downstream:{service}:ServiceKey</c>).</summary>
public sealed class DownstreamOptions
{
    [Required(ErrorMessage = "Downstream:{service}:ServiceKey must be set.")]
    [MinLength(32)]
    public string ServiceKey { get; set; } = "";

    /// <summary>Overrides the service-discovery address (<c>http://{service}</c>).</summary>
    public Uri? BaseAddress { get; set; }
}

public static class ServiceClients
{
    private static readonly RefitSettings Settings = new(new SystemTextJsonContentSerializer(
        new JsonSerializerOptions(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));

    /// <summary>
    /// A Refit client for another platform service, found by service discovery (<c>http://{service}</c>), sending that
    /// service's X-Service-Key, with the standard resilience handler every HttpClient gets from the service defaults.
    /// The key is validated at start.
    /// </summary>
    public static IHttpClientBuilder AddServiceClient<TApi>(this IHostApplicationBuilder builder, string service) where TApi : class
    {
        builder.Services.AddOptions<DownstreamOptions>(service)
            .BindConfiguration($"Downstream:{service}")
            .ValidateDataAnnotations()
            .ValidateOnStart();

        return builder.Services.AddRefitClient<TApi>(Settings)
            .ConfigureHttpClient((services, client) =>
            {
                var options = services.GetRequiredService<IOptionsMonitor<DownstreamOptions>>().Get(service);
                client.BaseAddress = options.BaseAddress ?? new Uri($"http://{service}");
                client.DefaultRequestHeaders.Add(ServiceKeyExtensions.ServiceKeyHeader, options.ServiceKey);
            });
    }
}
