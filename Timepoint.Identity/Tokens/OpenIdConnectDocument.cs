using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Timepoint.Identity.Tokens;

/// <summary>
/// OpenIddict answers discovery, the key set and revocation itself, before any endpoint runs; they are added to identity's
/// document here so that it describes every route identity serves.
/// </summary>
public static class OpenIdConnectDocument
{
    public static WebApplicationBuilder AddIdentityOpenApi(this WebApplicationBuilder builder)
    {
        builder.AddServiceOpenApi();
        builder.Services.Configure<OpenApiOptions>("v1", options => options.AddDocumentTransformer(async (document, context, cancellationToken) =>
        {
            document.Paths ??= [];
            document.Paths["/.well-known/openid-configuration"] = Get("GetOpenIdConfiguration",
                "The OpenID Connect discovery document: issuer, the endpoints below and what they accept.");
            document.Paths["/.well-known/jwks"] = Get("GetJsonWebKeySet",
                "The public keys access tokens are signed with (JWKS); the edge and any resource server verify tokens with them.");

            var revoke = new OpenApiPathItem();
            revoke.AddOperation(HttpMethod.Post, new OpenApiOperation
            {
                OperationId = "ConnectRevoke",
                Summary = "Revokes a refresh token (RFC 7009): token, optional token_type_hint, the client's credentials.",
                RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/x-www-form-urlencoded"] = new() { Schema = await context.GetOrCreateSchemaAsync(typeof(Auth.OAuthRevokeForm), null, cancellationToken) },
                    },
                },
                Responses = new OpenApiResponses
                {
                    ["200"] = new OpenApiResponse { Description = "Revoked, or not a token this server knows (RFC 7009 answers both alike)." },
                    ["400"] = new OpenApiResponse { Description = "An OAuth error.", Content = Json(new OpenApiSchemaReference(nameof(Auth.OAuthError), document)) },
                },
            });
            document.Paths["/connect/revoke"] = revoke;
        }));
        return builder;
    }

    private static OpenApiPathItem Get(string id, string summary)
    {
        var item = new OpenApiPathItem();
        item.AddOperation(HttpMethod.Get, new OpenApiOperation
        {
            OperationId = id,
            Summary = summary,
            Responses = new OpenApiResponses
            {
                ["200"] = new OpenApiResponse
                {
                    Description = "The document (a JSON object, as OpenID Connect Discovery 1.0 and RFC 7517 define it).",
                    Content = Json(new OpenApiSchema { Type = JsonSchemaType.Object }),
                },
            },
        });
        return item;
    }

    private static Dictionary<string, OpenApiMediaType> Json(IOpenApiSchema schema) => new() { ["application/json"] = new() { Schema = schema } };
}
