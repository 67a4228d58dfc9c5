using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using Timepoint.Client.Endpoints;
using Timepoint.Client.Http;

namespace Timepoint.Client;

/// <summary>
/// Timepoint generation and the caller's timepoints (<c>/api/v1/timepoints/*</c>). The generate calls are metered
/// (<c>generate_{preset}</c>, 5 credits for balanced); each takes an optional <c>Idempotency-Key</c>: a retry with the
/// same key and request is not charged again and gets the first answer (a key reused for another request is 422,
/// and 409 while the first is still running).
/// </summary>
public sealed class TimepointsClient
{
    private const string StreamPath = "api/v1/timepoints/generate/stream";

    private readonly ITimepointEndpoints endpoints;
    private readonly HttpClient http;

    internal TimepointsClient(ITimepointEndpoints endpoints, HttpClient http)
    {
        this.endpoints = endpoints;
        this.http = http;
    }

    /// <summary>Generates a timepoint and answers when it is stored.</summary>
    public Task<TimepointResponse<Timepoint>> GenerateAsync(GenerateRequest request, string? idempotencyKey = null,
        CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.GenerateSyncAsync(request, idempotencyKey, cancellationToken));

    /// <summary>Starts a generation and answers at once (202); poll <see cref="GetAsync"/> until it is completed.</summary>
    public Task<TimepointResponse<GenerationAccepted>> StartGenerationAsync(GenerateRequest request, string? idempotencyKey = null,
        CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.GenerateAsync(request, idempotencyKey, cancellationToken));

    /// <summary>
    /// Opens a streaming generation: refusals (402, 422, 429...) are thrown here, before any event; the answer's headers
    /// (the charge, the rate limit) are on the stream, and its events are read by enumerating it.
    /// </summary>
    public async Task<GenerationStream> OpenStreamAsync(GenerateRequest request, string? idempotencyKey = null,
        CancellationToken cancellationToken = default)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, StreamPath)
        {
            Content = JsonContent.Create(request, options: TimepointJson.Options),
        };
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (idempotencyKey is not null)
        {
            message.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw TimepointApiException.From(response.StatusCode, response.Headers,
                    await response.Content.ReadAsStringAsync(cancellationToken));
            }
        }

        return new GenerationStream(response);
    }

    /// <summary>A streaming generation as its events: start, one per pipeline step, done.</summary>
    public async IAsyncEnumerable<GenerationEvent> StreamAsync(GenerateRequest request, string? idempotencyKey = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var stream = await OpenStreamAsync(request, idempotencyKey, cancellationToken);
        await foreach (var item in stream.WithCancellation(cancellationToken))
        {
            yield return item;
        }
    }

    /// <summary>A timepoint of the caller's, or anyone's public one.</summary>
    public Task<TimepointResponse<Timepoint>> GetAsync(Guid id, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.GetAsync(id, cancellationToken));

    /// <summary>The caller's timepoints, newest first: <paramref name="limit"/> 1 to 100 (default 20).</summary>
    public Task<TimepointResponse<TimepointPage>> ListAsync(int? limit = null, int? offset = null, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.ListAsync(limit, offset, cancellationToken));

    public Task<TimepointResponse> DeleteAsync(Guid id, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.DeleteAsync(id, cancellationToken));
}
