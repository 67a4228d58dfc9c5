using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Timepoint.Gateway.Routing;

/// <summary>
/// Reads every backend's own document (through service discovery, as the proxy reaches them) when a client first asks,
/// merges them (<see cref="EdgeOpenApi.Merge"/>) and keeps the result for <see cref="Lifetime"/>. A backend that cannot be
/// read makes the first answer a 503 (a document missing a service's routes would mislead a generated client); once one
/// document was built, a failed refresh keeps serving it.
/// </summary>
public sealed class EdgeOpenApiDocument(IHttpClientFactory clients, IOptions<GatewayOptions> options, ILogger<EdgeOpenApiDocument> logger,
    TimeProvider clock)
{
    public const string HttpClientName = "openapi";
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim building = new(1, 1);
    private (string Json, DateTimeOffset BuiltAt)? cached;

    public async Task<string?> GetAsync(CancellationToken cancellationToken)
    {
        if (cached is { } fresh && clock.GetUtcNow() - fresh.BuiltAt < Lifetime)
        {
            return fresh.Json;
        }

        await building.WaitAsync(cancellationToken);
        try
        {
            if (cached is { } built && clock.GetUtcNow() - built.BuiltAt < Lifetime)
            {
                return built.Json;
            }

            try
            {
                var backends = new Dictionary<string, JsonObject>();
                foreach (var cluster in EdgeRoutes.Clusters)
                {
                    backends[cluster] = await ReadAsync(cluster, cancellationToken);
                }

                var json = EdgeOpenApi.Merge(backends, options.Value.PublicUrl?.ToString().TrimEnd('/') is { Length: > 0 } url ? url : "/").ToJsonString();
                cached = (json, clock.GetUtcNow());
                return json;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException
                && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "A backend's OpenAPI document could not be read; {State}.",
                    cached is null ? "the edge's document is not served yet" : "the edge keeps serving the one it built");
                return cached?.Json;
            }
        }
        finally
        {
            building.Release();
        }
    }

    private async Task<JsonObject> ReadAsync(string cluster, CancellationToken cancellationToken)
    {
        var client = clients.CreateClient(HttpClientName);
        var baseAddress = new Uri(options.Value.Destinations.GetValueOrDefault(cluster) ?? $"http://{cluster}");
        using var response = await client.GetAsync(new Uri(baseAddress, EdgeOpenApi.Path), cancellationToken);
        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStreamAsync(cancellationToken))?.AsObject()
            ?? throw new System.Text.Json.JsonException($"The {cluster} document is empty.");
    }
}
