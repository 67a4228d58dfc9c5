using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Timepoint.Gateway.Routing;

/// <summary>
/// The one OpenAPI document of the edge: every backend's own document (Microsoft.AspNetCore.OpenApi, its typed bodies and
/// answers) merged through the routing table. A backend operation is in it exactly when a route of the table reaches it,
/// under the path clients call; the route adds what the edge does there (who may call, its limits, metering, its errors).
/// Internal routes and backend routes the edge does not route never appear.
/// </summary>
public static partial class EdgeOpenApi
{
    public const string Path = ServiceOpenApi.DocumentPath;

    private const string Problem = "#/components/schemas/ProblemDetails";
    private static readonly string[] HttpMethodNames = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    private static readonly string[] BodyMethods = ["post", "put", "patch"];

    public static WebApplication MapEdgeOpenApi(this WebApplication app)
    {
        app.MapGet(Path, async (EdgeOpenApiDocument document, CancellationToken cancellationToken) =>
            await document.GetAsync(cancellationToken) is { } json
                ? Results.Text(json, "application/json")
                : Problems.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.UpstreamUnavailable, "Upstream unavailable",
                    "A service's own document could not be read; the edge's document is complete or not served."));
        return app;
    }

    /// <summary>The edge's document from each cluster's own (keyed by cluster name, as in <see cref="EdgeRoutes.Clusters"/>).</summary>
    public static JsonObject Merge(IReadOnlyDictionary<string, JsonObject> backends, string serverUrl = "/")
    {
        var schemas = new JsonObject { ["ProblemDetails"] = ProblemSchema() };
        var paths = new JsonObject { ["/health"] = EdgeHealth() };
        var operationIds = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        foreach (var cluster in EdgeRoutes.Clusters)
        {
            if (!backends.TryGetValue(cluster, out var backend))
            {
                continue;
            }

            var document = WithSchemasRenamed(backend, cluster, schemas);
            foreach (var (name, schema) in document["components"]?["schemas"]?.AsObject() ?? [])
            {
                if (name != "ProblemDetails" && !schemas.ContainsKey(name))
                {
                    schemas[name] = schema!.DeepClone();
                }
            }

            foreach (var (backendPath, item) in document["paths"]?.AsObject() ?? [])
            {
                foreach (var (method, operation) in item!.AsObject().Where(p => HttpMethodNames.Contains(p.Key)))
                {
                    if (Reach(cluster, backendPath, method) is not var (route, edgePath))
                    {
                        continue;
                    }

                    var edgeItem = paths[edgePath] as JsonObject ?? [];
                    paths[edgePath] = edgeItem;
                    var edgeOperation = Describe(operation!.AsObject().DeepClone().AsObject(), route, method, item["parameters"], schemas);
                    edgeOperation["operationId"] = UniqueId((string?)edgeOperation["operationId"], cluster, method, edgePath, operationIds);
                    edgeItem[method] = edgeOperation;
                }
            }
        }

        return new JsonObject
        {
            ["openapi"] = "3.1.1",
            ["info"] = new JsonObject
            {
                ["title"] = "Timepoint API",
                ["version"] = "1.0.0",
                ["description"] = "Every route clients reach through the edge. Errors are application/problem+json with a code member "
                    + "(docs/contract.md, section 3). Metered routes reserve credits before forwarding and answer X-Credits-Charged and "
                    + "X-Balance-After; an Idempotency-Key makes a retry free.",
            },
            ["servers"] = new JsonArray(new JsonObject { ["url"] = serverUrl }),
            ["tags"] = new JsonArray([.. Tags.Select(t => (JsonNode)new JsonObject { ["name"] = t.Key, ["description"] = t.Value })]),
            ["paths"] = Sorted(paths),
            ["components"] = new JsonObject
            {
                ["schemas"] = Sorted(Used(schemas, paths)),
                ["securitySchemes"] = new JsonObject
                {
                    [ServiceOpenApi.Bearer] = new JsonObject
                    {
                        ["type"] = "http", ["scheme"] = "bearer", ["bearerFormat"] = "JWT or API key",
                        ["description"] = "A JWT access token (from a TokenPair), or an API key in place of one.",
                    },
                    [ServiceOpenApi.ApiKey] = HeaderScheme("X-API-Key", "An API key (tp_gw_...)."),
                    [ServiceOpenApi.AdminKey] = HeaderScheme("X-Admin-Key", "The target service's admin key, checked by that service."),
                    [ServiceOpenApi.ServiceKey] = HeaderScheme("X-Service-Key", "The target service's service key, checked by that service."),
                },
                ["headers"] = Headers(),
            },
        };
    }

    private static readonly Dictionary<string, string> Tags = new()
    {
        ["edge"] = "The edge itself.",
        [EdgeRoutes.Identity] = "Sign-in, tokens, the caller's account, API keys, OpenID Connect.",
        [EdgeRoutes.Credits] = "Balances, the ledger, prices, grants.",
        [EdgeRoutes.Flash] = "Timepoint generation (metered) and the caller's timepoints.",
        [EdgeRoutes.Clockchain] = "The public graph of historical moments.",
        [EdgeRoutes.Pro] = "Pro Cloud simulations (metered).",
    };

    /// <summary>The schemas the paths use, directly or through other schemas (internal routes' own are left out).</summary>
    private static JsonObject Used(JsonObject schemas, JsonObject paths)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<JsonNode?>([paths]);
        while (pending.TryPop(out var node))
        {
            switch (node)
            {
                case JsonObject item:
                    foreach (var (key, value) in item)
                    {
                        if (key == "$ref" && (string?)value is { } target && target.StartsWith("#/components/schemas/", StringComparison.Ordinal)
                            && used.Add(target["#/components/schemas/".Length..]))
                        {
                            pending.Push(schemas[target["#/components/schemas/".Length..]]);
                        }
                        else
                        {
                            pending.Push(value);
                        }
                    }

                    break;
                case JsonArray array:
                    foreach (var value in array)
                    {
                        pending.Push(value);
                    }

                    break;
            }
        }

        return new JsonObject(schemas.Where(s => used.Contains(s.Key)).Select(s => KeyValuePair.Create(s.Key, s.Value?.DeepClone())));
    }

    /// <summary>The route of the table that reaches this backend operation, and the path clients call for it; null when none does.</summary>
    public static (EdgeRoute Route, string EdgePath)? Reach(string cluster, string backendPath, string method)
    {
        var path = backendPath.Length > 1 ? backendPath.TrimEnd('/') : backendPath;
        (EdgeRoute, string)? best = null;
        foreach (var route in EdgeRoutes.All.Where(r => r.Cluster == cluster
            && (r.Methods is null || r.Methods.Contains(method, StringComparer.OrdinalIgnoreCase))))
        {
            var match = PatternRegex(route.DestinationPath ?? route.Path).Match(path);
            if (!match.Success)
            {
                continue;
            }

            var edgePath = route.DestinationPath is null ? path
                : CatchAll().Replace(route.Path, m => match.Groups[m.Groups[1].Value] is { Success: true, Length: > 0 } rest ? "/" + rest.Value : "");
            // A route without a catch-all is the more specific one, as in the edge's own routing.
            if (!route.Path.Contains("{**", StringComparison.Ordinal))
            {
                return (route, edgePath);
            }

            best ??= (route, edgePath);
        }

        return best;
    }

    private static JsonObject Describe(JsonObject operation, EdgeRoute route, string method, JsonNode? pathParameters, JsonObject schemas)
    {
        operation["tags"] = new JsonArray(route.Cluster);
        operation["security"] = route.Access switch
        {
            Access.User => new JsonArray(Requirement(ServiceOpenApi.Bearer), Requirement(ServiceOpenApi.ApiKey)),
            Access.Jwt => new JsonArray(Requirement(ServiceOpenApi.Bearer)),
            Access.Admin => new JsonArray(Requirement(ServiceOpenApi.AdminKey)),
            Access.Service => new JsonArray(Requirement(ServiceOpenApi.ServiceKey)),
            _ => new JsonArray(),
        };

        var parameters = operation["parameters"] as JsonArray ?? pathParameters?.DeepClone() as JsonArray ?? [];
        if (route.Metered is not null)
        {
            parameters.Add(new JsonObject
            {
                ["name"] = "Idempotency-Key", ["in"] = "header", ["required"] = false,
                ["description"] = "Makes a retry free: the same key and body answer the first outcome again for 24 h (409 while it is "
                    + "in flight, 422 with another body). Scoped per user.",
                ["schema"] = new JsonObject { ["type"] = "string", ["maxLength"] = 255 },
            });
        }

        if (parameters.Count > 0)
        {
            operation["parameters"] = parameters;
        }

        var scope = route.RequiredScope(method);
        var metering = route.Metered is null ? "" : route.Metered == "generate"
            ? " Metered: charged generate_{preset} (GET /api/v1/credits/costs)."
            : $" Metered: charged {route.Metered} (GET /api/v1/credits/costs).";
        operation["description"] = ((string?)operation["description"] is { Length: > 0 } own ? own + "\n\n" : "")
            + AccessText(route.Access, scope) + metering + (route.Streaming ? " A stream: no total timeout, 30 s idle at most." : "");

        var responses = operation["responses"] as JsonObject ?? [];
        operation["responses"] = responses;
        foreach (var (status, response) in responses)
        {
            if (status.StartsWith('2'))
            {
                AddHeaders(response!.AsObject(), route.Metered is null ? RateLimitHeaders : [.. RateLimitHeaders, .. MeteringHeaders]);
            }
        }

        foreach (var (status, meaning, headers) in EdgeErrors(route, method))
        {
            var response = responses[status] as JsonObject ?? new JsonObject { ["description"] = meaning };
            responses[status] = response;
            if ((string?)response["description"] is { } description && description != meaning && !description.Contains(meaning, StringComparison.Ordinal))
            {
                response["description"] = description.TrimEnd('.') + "; " + meaning;
            }

            var content = response["content"] as JsonObject ?? [];
            response["content"] = content;
            content["application/problem+json"] ??= new JsonObject { ["schema"] = new JsonObject { ["$ref"] = Problem } };
            AddHeaders(response, headers);
        }

        foreach (var (_, response) in responses)
        {
            // A problem's schema, whichever service described it, is the platform's one problem.
            if (response?["content"]?["application/problem+json"] is JsonObject problem)
            {
                problem["schema"] = new JsonObject { ["$ref"] = Problem };
            }

            // A stream is described by its events: the schema of each event's data line (not the server's SseItem wrapper).
            if (response?["content"]?["text/event-stream"] is JsonObject stream && (string?)stream["schema"]?["$ref"] is { } item
                && schemas[item.Split('/')[^1]]?["properties"]?["data"] is { } data)
            {
                var eventSchema = data.DeepClone().AsObject();
                eventSchema["description"] = "Server-sent events; each event is one 'data: <JSON>' line, the JSON of this schema.";
                stream["schema"] = eventSchema;
            }
        }

        operation["responses"] = Sorted(responses);
        return operation;
    }

    /// <summary>The errors the edge itself can answer on this route, with the headers they carry.</summary>
    private static IEnumerable<(string Status, string Meaning, string[] Headers)> EdgeErrors(EdgeRoute route, string method)
    {
        string[] limits = RateLimitHeaders;
        if (route.Access is not Access.Public)
        {
            yield return ("401", "auth.missing, auth.jwt_invalid, auth.jwt_expired, auth.key_invalid, auth.key_revoked or auth.token_revoked "
                + "(WWW-Authenticate: Bearer).", []);
            yield return ("403", "auth.forbidden: the API key lacks the route's scope, or the route is for signed-in users only.", []);
        }

        if (route.Metered is not null)
        {
            yield return ("402", "auth.insufficient_credits (credits_required, credits_available) or auth.key_credit_limit.", limits);
            yield return ("409", "conflict: a request with this Idempotency-Key is still in flight.", limits);
            yield return ("422", "validation_failed: preset unknown or given twice, Idempotency-Key too long or reused with another body.", limits);
        }

        if (BodyMethods.Contains(method))
        {
            yield return ("413", "validation_failed: the body is larger than the edge accepts.", []);
        }

        yield return ("429", "rate_limited: wait Retry-After seconds.", [.. limits, "Retry-After"]);
        yield return ("500", "internal_error.", []);
        yield return ("502", "upstream_unavailable: the service could not be reached.", []);
        yield return ("503", "upstream_unavailable: come back after Retry-After seconds.", ["Retry-After"]);
        yield return ("504", "upstream_timeout: the service did not answer in time.", []);
    }

    private static string AccessText(Access access, string scope) => access switch
    {
        Access.Public => "Public: no credentials.",
        Access.User => $"A signed-in user's JWT, or an API key with the {scope} scope.",
        Access.Jwt => "A signed-in user's JWT only (API keys are refused).",
        Access.Admin => "The target service's X-Admin-Key.",
        _ => "The target service's X-Service-Key.",
    };

    private static readonly string[] RateLimitHeaders = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"];
    private static readonly string[] MeteringHeaders = ["X-Credits-Charged", "X-Balance-After", "Idempotent-Replayed"];

    private static void AddHeaders(JsonObject response, IEnumerable<string> names)
    {
        var headers = response["headers"] as JsonObject ?? [];
        foreach (var name in names)
        {
            headers[name] = new JsonObject { ["$ref"] = $"#/components/headers/{name}" };
        }

        if (headers.Count > 0)
        {
            response["headers"] = headers;
        }
    }

    private static JsonObject Headers()
    {
        JsonObject Header(string description, string type = "integer") =>
            new() { ["description"] = description, ["schema"] = new JsonObject { ["type"] = type } };

        return new JsonObject
        {
            ["X-RateLimit-Limit"] = Header("The calls the caller's current window allows."),
            ["X-RateLimit-Remaining"] = Header("The calls left in the current window."),
            ["X-RateLimit-Reset"] = Header("When the window ends, in Unix epoch seconds."),
            ["Retry-After"] = Header("Seconds to wait before trying again."),
            ["X-Credits-Charged"] = Header("Credits this call cost (0 for a refunded or replayed call)."),
            ["X-Balance-After"] = Header("The caller's balance after this call."),
            ["Idempotent-Replayed"] = Header("true: the first outcome of this Idempotency-Key, answered again and not charged.", "string"),
        };
    }

    private static JsonObject ProblemSchema()
    {
        JsonObject Type(string type, string? description = null) => description is null
            ? new() { ["type"] = type }
            : new() { ["type"] = type, ["description"] = description };

        return new JsonObject
        {
            ["type"] = "object",
            ["description"] = "RFC 9457 problem details with the platform's code.",
            ["properties"] = new JsonObject
            {
                ["type"] = Type("string"),
                ["title"] = Type("string"),
                ["status"] = Type("integer"),
                ["detail"] = Type("string"),
                ["instance"] = Type("string"),
                ["code"] = Type("string", "auth.missing, auth.jwt_invalid, auth.jwt_expired, auth.key_invalid, auth.key_revoked, "
                    + "auth.token_revoked, auth.forbidden, auth.insufficient_credits, auth.key_credit_limit, rate_limited, validation_failed, "
                    + "not_found, method_not_allowed, conflict, upstream_unavailable, upstream_timeout, internal_error."),
                ["errors"] = new JsonObject
                {
                    ["type"] = "object",
                    ["description"] = "validation_failed: the offending fields, each with its messages.",
                    ["additionalProperties"] = new JsonObject { ["type"] = "array", ["items"] = Type("string") },
                },
                ["credits_required"] = Type("integer", "auth.insufficient_credits, auth.key_credit_limit: what the call costs."),
                ["credits_available"] = Type("integer", "auth.insufficient_credits: the balance."),
                ["key_credits_remaining"] = Type("integer", "auth.key_credit_limit: what the key may still spend."),
            },
            ["required"] = new JsonArray("code"),
        };
    }

    private static JsonObject EdgeHealth() => new()
    {
        ["get"] = new JsonObject
        {
            ["operationId"] = "GetEdgeHealth",
            ["tags"] = new JsonArray("edge"),
            ["summary"] = "Health of the edge (readiness).",
            ["security"] = new JsonArray(),
            ["responses"] = new JsonObject
            {
                ["200"] = new JsonObject
                {
                    ["description"] = "healthy, or degraded (Redis unreachable: limits per replica).",
                    ["content"] = new JsonObject
                    {
                        ["application/json"] = new JsonObject
                        {
                            ["schema"] = new JsonObject
                            {
                                ["type"] = "object",
                                ["properties"] = new JsonObject
                                {
                                    ["status"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("healthy", "degraded", "unhealthy") },
                                    ["service"] = new JsonObject { ["type"] = "string" },
                                    ["version"] = new JsonObject { ["type"] = "string" },
                                },
                                ["required"] = new JsonArray("status"),
                            },
                        },
                    },
                },
                ["503"] = new JsonObject
                {
                    ["description"] = "unhealthy (for example, the revoked-session list was never read).",
                    ["headers"] = new JsonObject { ["Retry-After"] = new JsonObject { ["$ref"] = "#/components/headers/Retry-After" } },
                },
            },
        },
    };

    /// <summary>A backend's schema whose name another backend already gave a different schema is renamed after its cluster.</summary>
    private static JsonObject WithSchemasRenamed(JsonObject backend, string cluster, JsonObject merged)
    {
        var text = backend.ToJsonString();
        foreach (var (name, schema) in backend["components"]?["schemas"]?.AsObject() ?? [])
        {
            if (name != "ProblemDetails" && merged[name] is { } existing && !JsonNode.DeepEquals(existing, schema))
            {
                var renamed = char.ToUpperInvariant(cluster[0]) + cluster[1..] + name;
                text = text.Replace($"\"#/components/schemas/{name}\"", $"\"#/components/schemas/{renamed}\"", StringComparison.Ordinal)
                    .Replace($"\"{name}\":", $"\"{renamed}\":", StringComparison.Ordinal);
            }
        }

        return JsonNode.Parse(text)!.AsObject();
    }

    private static string UniqueId(string? id, string cluster, string method, string path, HashSet<string> taken)
    {
        var candidate = id ?? method + string.Concat(path.Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.Trim('{', '}')).Select(s => char.ToUpperInvariant(s[0]) + s[1..].Replace("-", "").Replace(".", "")));
        if (!taken.Add(candidate))
        {
            candidate = char.ToUpperInvariant(cluster[0]) + cluster[1..] + candidate;
            taken.Add(candidate);
        }

        return candidate;
    }

    private static JsonObject Requirement(string scheme) => new() { [scheme] = new JsonArray() };

    private static JsonObject HeaderScheme(string name, string description) =>
        new() { ["type"] = "apiKey", ["in"] = "header", ["name"] = name, ["description"] = description };

    private static JsonObject Sorted(JsonObject items) =>
        new(items.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));

    /// <summary>A YARP route pattern as a regex over OpenAPI path templates: a catch-all takes the rest (its slash too), a parameter one segment.</summary>
    private static Regex PatternRegex(string pattern)
    {
        var regex = new System.Text.StringBuilder("^");
        var at = 0;
        foreach (Match m in Placeholder().Matches(pattern))
        {
            var literal = pattern[at..m.Index];
            var name = m.Groups["name"].Value;
            if (m.Groups["catchall"].Success)
            {
                regex.Append(Regex.Escape(literal.TrimEnd('/'))).Append($"(?:/(?<{name}>.*))?");
            }
            else
            {
                regex.Append(Regex.Escape(literal)).Append(m.Groups["choices"].Success ? $"(?<{name}>{m.Groups["choices"].Value})" : $"(?<{name}>[^/]+)");
            }

            at = m.Index + m.Length;
        }

        return new Regex(regex.Append(Regex.Escape(pattern[at..])).Append('$').ToString(), RegexOptions.CultureInvariant);
    }

    [GeneratedRegex(@"/?\{\*\*(\w+)\}")]
    private static partial Regex CatchAll();

    [GeneratedRegex(@"\{(?<catchall>\*\*)?(?<name>\w+)(?::regex\(\^\((?<choices>[\w|]+)\)\$\))?(?::\w+)?\}")]
    private static partial Regex Placeholder();
}
