using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Timepoint.Client.Http;

namespace Timepoint.Client;

/// <summary>
/// An open streaming generation: its headers as on any answer, its events by enumerating it (once). Dispose it to
/// close the connection; a stream left before <c>done</c> is still charged if the platform reaches <c>done</c>.
/// </summary>
public sealed class GenerationStream : TimepointResponse, IAsyncEnumerable<GenerationEvent>, IDisposable
{
    private readonly HttpResponseMessage response;
    private int enumerated;

    internal GenerationStream(HttpResponseMessage response) : base(response.StatusCode, response.Headers) => this.response = response;

    public async IAsyncEnumerator<GenerationEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref enumerated, 1) == 1)
        {
            throw new InvalidOperationException("A generation stream can be read once.");
        }

        await foreach (var item in ReadAsync(cancellationToken))
        {
            yield return item;
        }
    }

    private async IAsyncEnumerable<GenerationEvent> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        var parser = SseParser.Create(body, static (_, data) => JsonSerializer.Deserialize<WireEvent>(data, TimepointJson.Options));
        await foreach (var item in parser.EnumerateAsync(cancellationToken))
        {
            if (item.Data is { } wire)
            {
                yield return wire.ToEvent();
            }
        }
    }

    public void Dispose() => response.Dispose();

    /// <summary><c>data: {"event","step","data","progress","error"}</c> as flash sends it.</summary>
    private sealed record WireEvent(string Event, string? Step, JsonElement Data, int Progress, string? Error)
    {
        public GenerationEvent ToEvent() => Event switch
        {
            _ when Error is not null => new GenerationFailed(Error, Progress),
            "start" => new GenerationStarted(Data.GetProperty("timepoint_id").GetGuid(), Text("query"), Text("preset")),
            "step_complete" => new GenerationStepCompleted(Step ?? "", Data, Progress),
            "done" => new GenerationCompleted(Data.GetProperty("timepoint_id").GetGuid(),
                Data.GetProperty("timepoint").Deserialize<Timepoint>(TimepointJson.Options)!),
            _ => new UnknownGenerationEvent(Event, Step, Data, Progress),
        };

        private string Text(string name) => Data.TryGetProperty(name, out var value) ? value.GetString() ?? "" : "";
    }
}
