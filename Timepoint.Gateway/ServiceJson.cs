using System.Text.Json;
using System.Text.Json.Serialization;
using Timepoint.Gateway.Auth;
using Timepoint.Gateway.Metering;

namespace Timepoint.Gateway;

/// <summary>Bodies exchanged with identity and credits, serialized without reflection.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(VerifyRequest))]
[JsonSerializable(typeof(KeyVerdict))]
[JsonSerializable(typeof(RevokedSessions))]
[JsonSerializable(typeof(ReserveRequest))]
[JsonSerializable(typeof(Reservation))]
[JsonSerializable(typeof(RefundRequest))]
[JsonSerializable(typeof(SettleManyRequest))]
[JsonSerializable(typeof(SettleManyResponse))]
public sealed partial class ServiceJson : JsonSerializerContext;
