using System.Text.Json;

namespace Timepoint.Flash.Stub.Tests;

public static class StreamReading
{
    /// <summary>
    /// The JSON of each <c>data:</c> line, and whether the stream ended cleanly (false when the connection broke).
    /// Any other non-blank line fails the test: the stream is nothing but <c>data: {json}</c> events.
    /// </summary>
    public static async Task<(List<JsonElement> Events, bool EndedCleanly)> ReadEventsAsync(HttpResponseMessage response)
    {
        var events = new List<JsonElement>();
        try
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    events.Add(JsonSerializer.Deserialize<JsonElement>(line["data: ".Length..]));
                }
                else
                {
                    Assert.True(line.Length == 0, $"unexpected stream line: {line}");
                }
            }

            return (events, true);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            return (events, false);
        }
    }
}
