using System.Text.Json;
using System.Text.Json.Serialization;

namespace Timepoint.Identity.Downstream;

/// <summary>Bodies identity sends to and reads from other services, serialized without reflection.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(AccountRequest))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class ServiceJson : JsonSerializerContext;
