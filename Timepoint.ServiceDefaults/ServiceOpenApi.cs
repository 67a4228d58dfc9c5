using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Each service describes its own endpoints (<c>/openapi/v1.json</c>, Microsoft.AspNetCore.OpenApi): typed bodies and
/// answers from the handlers' signatures, problems with their <c>code</c>, and who may call each endpoint. The edge merges
/// these documents into the one clients read (docs/contract.md, "The document").
/// </summary>
public static class ServiceOpenApi
{
    public const string DocumentPath = "/openapi/v1.json";

    /// <summary>The security schemes every document names, by the header a caller presents.</summary>
    public const string Bearer = "bearer";
    public const string ApiKey = "apiKey";
    public const string AdminKey = "adminKey";
    public const string ServiceKey = "serviceKey";

    public static TBuilder AddServiceOpenApi<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[Bearer] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = "JWT or API key",
                    Description = "A JWT access token (from a TokenPair), or an API key in place of one.",
                };
                document.Components.SecuritySchemes[ApiKey] = Header("X-API-Key", "An API key (tp_gw_...).");
                document.Components.SecuritySchemes[AdminKey] = Header(ServiceKeyExtensions.AdminKeyHeader, "The target service's admin key.");
                document.Components.SecuritySchemes[ServiceKey] = Header(ServiceKeyExtensions.ServiceKeyHeader, "The target service's service key.");
                return Task.CompletedTask;
            });
            options.AddOperationTransformer(async (operation, context, cancellationToken) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                if (metadata.OfType<DescribedBody>().LastOrDefault() is { } body && operation.RequestBody?.Content is { } content)
                {
                    var document = context.Document!;
                    document.Components ??= new OpenApiComponents();
                    document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
                    document.Components.Schemas[body.Type.Name] = await context.GetOrCreateSchemaAsync(body.Type, null, cancellationToken);
                    content["application/json"] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(body.Type.Name, document) };
                }

                if (metadata.OfType<CallerCredentials>().LastOrDefault() is { } credentials)
                {
                    operation.Security = [.. credentials.Schemes.Select(scheme => new OpenApiSecurityRequirement
                    {
                        [new OpenApiSecuritySchemeReference(scheme, context.Document)] = [],
                    })];
                }

            });
            options.AddSchemaTransformer((schema, context, _) =>
            {
                // Numbers are read from strings too (the web defaults), but always written as numbers: the document says number.
                if (schema.Type is { } type && (type & (JsonSchemaType.Integer | JsonSchemaType.Number)) != 0 && (type & JsonSchemaType.String) != 0)
                {
                    schema.Type = type & ~JsonSchemaType.String;
                    schema.Pattern = null;
                }

                // Every platform problem carries its code (ErrorCodes), and a validation problem the fields it names.
                if (typeof(ProblemDetails).IsAssignableFrom(context.JsonTypeInfo.Type))
                {
                    schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
                    schema.Properties["code"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.String,
                        Description = "What went wrong, for programs: auth.missing, validation_failed, not_found, ... (docs/contract.md, section 3).",
                    };
                    schema.Properties["errors"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Description = "validation_failed: the offending fields, each with its messages.",
                        AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                    };
                    schema.Required ??= new HashSet<string>();
                    schema.Required.Add("code");
                }

                return Task.CompletedTask;
            });
        });
        return builder;
    }

    /// <summary>Serves the service's document to the edge (never routed to clients: the edge serves the merged one).</summary>
    public static WebApplication MapServiceOpenApi(this WebApplication app)
    {
        app.MapOpenApi(DocumentPath);
        return app;
    }

    /// <summary>The problem answers an endpoint can give besides those its result types name.</summary>
    public static TBuilder ProducesProblems<TBuilder>(this TBuilder builder, params int[] statuses) where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in statuses)
        {
            builder.WithMetadata(new ProducesResponseTypeMetadata(status, typeof(ProblemDetails), ["application/problem+json"]));
        }

        return builder;
    }

    /// <summary>
    /// The body an endpoint that binds a raw <c>JsonElement</c> (to read it member by member) accepts, for the document:
    /// the bound type alone would say "any JSON".
    /// </summary>
    public static RouteHandlerBuilder DescribedBody<TBody>(this RouteHandlerBuilder builder) =>
        builder.WithMetadata(new DescribedBody(typeof(TBody)));

    private static OpenApiSecurityScheme Header(string name, string description) =>
        new() { Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = name, Description = description };
}

/// <summary>The body type the document names for an endpoint (see <see cref="ServiceOpenApi.DescribedBody{TBody}"/>).</summary>
public sealed record DescribedBody(Type Type);

/// <summary>Who may call an endpoint, as security schemes of the document (any one of them suffices).</summary>
public sealed record CallerCredentials(params string[] Schemes);
