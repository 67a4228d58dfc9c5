using System.Text.Json;
using System.Text.Json.Serialization;

namespace Timepoint.Identity.Downstream;

/// <summary>Bodies identity sends to other services, serialized without reflection.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(AccountRequest))]
public sealed partial class ServiceJson : JsonSerializerContext;
