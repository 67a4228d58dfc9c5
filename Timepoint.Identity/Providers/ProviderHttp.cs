using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Timepoint.Identity.Providers;

/// <summary>Calls to Apple, Google and GitHub: one timeout per call, a cap on what is read, no retries (a code is single use).</summary>
public sealed class ProviderHttp(HttpClient http, IOptions<ProvidersOptions> options, ILogger<ProviderHttp> logger)
{
    public const string ClientName = "providers";

    public async Task<JsonElement> GetJsonAsync(string provider, Uri uri, string? bearer, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return await SendAsync(provider, request, ct);
    }

    public async Task<JsonElement> PostFormAsync(string provider, Uri uri, IEnumerable<KeyValuePair<string, string>> form, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new FormUrlEncodedContent(form) };
        return await SendAsync(provider, request, ct);
    }

    /// <summary>
    /// The JSON body of a provider answer. 4xx answers with a JSON body are returned (they carry the OAuth error);
    /// a timeout, a 5xx, an oversized or non-JSON body is <see cref="ProviderFailureKind.Unavailable"/>.
    /// </summary>
    private async Task<JsonElement> SendAsync(string provider, HttpRequestMessage request, CancellationToken ct)
    {
        var settings = options.Value;
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("timepoint-identity", "1.0"));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(settings.Timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if ((int)response.StatusCode >= 500)
            {
                logger.LogWarning("{Provider} answered {Status} at {Uri}", provider, (int)response.StatusCode, request.RequestUri);
                throw ProviderFailure.Unavailable(provider);
            }

            if (response.Content.Headers.ContentLength > settings.MaxResponseBytes)
            {
                throw TooLarge(provider, request.RequestUri);
            }

            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, timeout.Token)) > 0)
            {
                if (buffer.Length + read > settings.MaxResponseBytes)
                {
                    throw TooLarge(provider, request.RequestUri);
                }

                buffer.Write(chunk, 0, read);
            }

            using var document = JsonDocument.Parse(buffer.ToArray());
            var body = document.RootElement.Clone();
            if (!response.IsSuccessStatusCode && body.ValueKind != JsonValueKind.Object)
            {
                throw ProviderFailure.Unavailable(provider);
            }

            return body;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("{Provider} did not answer within {Timeout} at {Uri}", provider, settings.Timeout, request.RequestUri);
            throw ProviderFailure.Unavailable(provider);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or IOException)
        {
            logger.LogWarning("{Provider} call to {Uri} failed: {Error}", provider, request.RequestUri, ex.Message);
            throw ProviderFailure.Unavailable(provider);
        }
    }

    private ProviderFailure TooLarge(string provider, Uri? uri)
    {
        logger.LogWarning("{Provider} answer from {Uri} exceeds {Limit} bytes", provider, uri, options.Value.MaxResponseBytes);
        return ProviderFailure.Unavailable(provider);
    }
}
