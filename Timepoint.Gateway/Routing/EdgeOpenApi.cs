using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Timepoint.Gateway.Routing;

/// <summary>
/// The OpenAPI document of the whole edge, built from the routing table, so it cannot drift from what is routed:
/// every path, its methods, its access policy as security requirements, and the platform's error responses.
/// </summary>
public static partial class EdgeOpenApi
{
    private static readonly Lazy<string> Json = new(() => Build().ToJsonString());

    public static WebApplication MapEdgeOpenApi(this WebApplication app)
    {
        app.MapGet("/openapi/v1.json", () => Results.Text(Json.Value, "application/json"));
        return app;
    }

    public static JsonObject Build()
    {
        var paths = new JsonObject
        {
            ["/health"] = new JsonObject { ["get"] = Operation("health", "edge", "Health of the edge.", Access.Public) },
        };
        foreach (var route in EdgeRoutes.All)
        {
            foreach (var path in Expand(route.Path))
            {
                var item = paths[path] as JsonObject ?? [];
                paths[path] = item;
                foreach (var method in route.Methods ?? ["GET", "POST", "PUT", "PATCH", "DELETE"])
                {
                    if (method == "HEAD")
                    {
                        continue;
                    }

                    var summary = route.Metered is null ? $"Served by {route.Cluster}." : $"Served by {route.Cluster}; metered ({route.Metered}).";
                    var operation = Operation($"{route.Id}-{method.ToLowerInvariant()}-{paths.Count}", route.Cluster, summary, route.Access);
                    var parameters = Parameters(path);
                    if (parameters.Count > 0)
                    {
                        operation["parameters"] = parameters;
                    }

                    item[method.ToLowerInvariant()] = operation;
                }
            }
        }

        return new JsonObject
        {
            ["openapi"] = "3.1.0",
            ["info"] = new JsonObject
            {
                ["title"] = "Timepoint API gateway",
                ["version"] = "0.1.0",
                ["description"] = "Every route clients reach. Errors are application/problem+json with a code member.",
            },
            ["paths"] = paths,
            ["components"] = new JsonObject
            {
                ["securitySchemes"] = new JsonObject
                {
                    ["bearer"] = new JsonObject { ["type"] = "http", ["scheme"] = "bearer", ["bearerFormat"] = "JWT" },
                    ["apiKey"] = Header("X-API-Key"),
                    ["adminKey"] = Header("X-Admin-Key"),
                    ["serviceKey"] = Header("X-Service-Key"),
                },
                ["schemas"] = new JsonObject
                {
                    ["Problem"] = new JsonObject
                    {
                        ["type"] = "object",
                        ["properties"] = new JsonObject
                        {
                            ["type"] = Str(), ["title"] = Str(), ["status"] = new JsonObject { ["type"] = "integer" },
                            ["detail"] = Str(), ["code"] = Str(),
                        },
                        ["required"] = new JsonArray("status", "code"),
                    },
                },
            },
        };
    }

    private static JsonObject Operation(string id, string tag, string summary, Access access)
    {
        var responses = new JsonObject { ["200"] = new JsonObject { ["description"] = "Success." } };
        foreach (var (status, meaning) in ErrorsFor(access))
        {
            responses[status] = new JsonObject
            {
                ["description"] = meaning,
                ["content"] = new JsonObject
                {
                    ["application/problem+json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = "#/components/schemas/Problem" } },
                },
            };
        }

        return new JsonObject
        {
            ["operationId"] = id,
            ["tags"] = new JsonArray(tag),
            ["summary"] = summary,
            ["security"] = access switch
            {
                Access.User => new JsonArray(new JsonObject { ["bearer"] = new JsonArray() }, new JsonObject { ["apiKey"] = new JsonArray() }),
                Access.Jwt => new JsonArray(new JsonObject { ["bearer"] = new JsonArray() }),
                Access.Admin => new JsonArray(new JsonObject { ["adminKey"] = new JsonArray() }),
                Access.Service => new JsonArray(new JsonObject { ["serviceKey"] = new JsonArray() }),
                _ => new JsonArray(),
            },
            ["responses"] = responses,
        };
    }

    private static IEnumerable<(string, string)> ErrorsFor(Access access)
    {
        if (access is not Access.Public)
        {
            yield return ("401", "auth.missing, auth.jwt_invalid, auth.jwt_expired, auth.key_invalid or auth.key_revoked.");
            yield return ("403", "auth.forbidden.");
        }

        yield return ("429", "rate_limited, with Retry-After.");
        yield return ("502", "upstream_unavailable.");
        yield return ("504", "upstream_timeout.");
    }

    /// <summary>YARP patterns to OpenAPI paths: regex alternatives become paths of their own, catch-alls a parameter.</summary>
    private static IEnumerable<string> Expand(string pattern)
    {
        var match = Alternatives().Match(pattern);
        if (!match.Success)
        {
            return [CatchAll().Replace(pattern, "{$1}")];
        }

        return match.Groups["choices"].Value.Split('|')
            .SelectMany(choice => Expand(pattern.Remove(match.Index, match.Length).Insert(match.Index, choice)));
    }

    private static JsonArray Parameters(string path) =>
        [.. Placeholder().Matches(path).Select(m => (JsonNode)new JsonObject
        {
            ["name"] = m.Groups[1].Value, ["in"] = "path", ["required"] = true, ["schema"] = Str(),
        })];

    private static JsonObject Header(string name) => new() { ["type"] = "apiKey", ["in"] = "header", ["name"] = name };

    private static JsonObject Str() => new() { ["type"] = "string" };

    [GeneratedRegex(@"\{\w+:regex\(\^\((?<choices>[^)]*)\)\$\)\}")]
    private static partial Regex Alternatives();

    [GeneratedRegex(@"\{\*\*(\w+)\}")]
    private static partial Regex CatchAll();

    [GeneratedRegex(@"\{(\w+)\}")]
    private static partial Regex Placeholder();
}
