using System.Text.Json;
using System.Text.Json.Serialization;

namespace Timepoint.Client.Http;

/// <summary>The platform's wire format: snake_case names, absent members for nulls the client sends.</summary>
internal static class TimepointJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
