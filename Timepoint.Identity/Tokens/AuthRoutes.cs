using Microsoft.AspNetCore;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Extensions;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.AspNetCore.OpenIddictServerAspNetCoreHandlers;

namespace Timepoint.Identity.Tokens;

/// <summary>
/// The platform's JSON sign-in routes are OpenIddict token endpoints in disguise: each maps to a grant type, its JSON
/// body becomes the form OpenIddict reads, and OpenIddict's answer becomes a TokenPair or a problem+json. Every token is
/// minted by OpenIddict; nothing here signs anything.
/// </summary>
public static class AuthRoutes
{
    public const string DemoGrant = "urn:timepoint:grant-type:demo";
    public const string DevGrant = "urn:timepoint:grant-type:dev";
    public const string ServiceGrant = "urn:timepoint:grant-type:service";

    /// <summary>Route -> grant type. Provider sign-ins join this table.</summary>
    public static readonly IReadOnlyDictionary<string, string> Grants = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["/api/v1/auth/refresh"] = OpenIddictConstants.GrantTypes.RefreshToken,
        ["/api/v1/auth/demo"] = DemoGrant,
        ["/api/v1/auth/dev/token"] = DevGrant,
        ["/api/v1/auth/service-token"] = ServiceGrant,
    };

    public static readonly string[] CustomGrants = [DemoGrant, DevGrant, ServiceGrant];

    private const int MaxBody = 16 * 1024;
    private static readonly object JsonRouteKey = new();

    // Protocol parameters a JSON body may not smuggle into the OAuth request.
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope", "resource", "audience",
    };

    public static bool IsJsonRoute(HttpContext context) => context.Items.ContainsKey(JsonRouteKey);

    /// <summary>Rewrites a JSON POST on a sign-in route into the form request OpenIddict expects; bad JSON ends here with a problem.</summary>
    public static WebApplication UseJsonTokenRoutes(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var request = context.Request;
            if (!HttpMethods.IsPost(request.Method) || !Grants.TryGetValue(request.Path.Value ?? "", out var grant))
            {
                await next(context);
                return;
            }

            context.Items[JsonRouteKey] = true;
            var (fields, problem) = await ReadJsonAsync(request, context.RequestAborted);
            if (problem is not null)
            {
                await Problems.WriteAsync(context, problem);
                return;
            }

            var form = new QueryBuilder { { "grant_type", grant } };
            foreach (var (name, value) in fields!)
            {
                form.Add(name, value);
            }

            var body = Encoding.UTF8.GetBytes(form.ToQueryString().Value![1..]);
            request.Body = new MemoryStream(body);
            request.ContentLength = body.Length;
            request.ContentType = "application/x-www-form-urlencoded";
            await next(context);
        });
        return app;
    }

    private static async Task<(List<KeyValuePair<string, string>>?, Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult?)> ReadJsonAsync(
        HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBody)
        {
            return (null, Problems.Create(StatusCodes.Status413PayloadTooLarge, ErrorCodes.ValidationFailed, "Payload too large",
                $"The body may be at most {MaxBody} bytes."));
        }

        if (request.HasJsonContentType() is false && request.ContentLength is > 0)
        {
            return (null, Problems.Create(StatusCodes.Status415UnsupportedMediaType, ErrorCodes.ValidationFailed,
                "Unsupported media type", "Send the body as application/json."));
        }

        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        if (buffer.Length > MaxBody)
        {
            return (null, Problems.Create(StatusCodes.Status413PayloadTooLarge, ErrorCodes.ValidationFailed, "Payload too large",
                $"The body may be at most {MaxBody} bytes."));
        }

        if (buffer.Length == 0)
        {
            return ([], null);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(buffer.ToArray());
        }
        catch (JsonException)
        {
            return (null, Problems.Create(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, "Malformed JSON",
                "The body is not valid JSON."));
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, Problems.Validation("The body must be a JSON object."));
            }

            List<KeyValuePair<string, string>> fields = [];
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (Reserved.Contains(property.Name))
                {
                    return (null, Problems.Validation(property.Name, $"'{property.Name}' is not accepted here."));
                }

                switch (property.Value.ValueKind)
                {
                    case JsonValueKind.String:
                        fields.Add(new(property.Name, property.Value.GetString()!));
                        break;
                    case JsonValueKind.Null:
                        break;
                    default:
                        return (null, Problems.Validation(property.Name, $"'{property.Name}' must be a string."));
                }
            }

            return (fields, null);
        }
    }

    /// <summary>Turns OpenIddict's token response on a JSON route into the TokenPair, or its error into problem+json.</summary>
    public sealed class ApplyJsonTokenResponse : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyTokenResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<OpenIddictServerEvents.ApplyTokenResponseContext>()
                .UseSingletonHandler<ApplyJsonTokenResponse>()
                .SetOrder(ProcessJsonResponse<OpenIddictServerEvents.ApplyTokenResponseContext>.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(OpenIddictServerEvents.ApplyTokenResponseContext context)
        {
            var http = context.Transaction.GetHttpRequest()?.HttpContext;
            if (http is null || !IsJsonRoute(http))
            {
                return;
            }

            var response = context.Response;
            http.Response.Headers.CacheControl = "no-store";
            http.Response.Headers.Pragma = "no-cache";
            if (string.IsNullOrEmpty(response.Error))
            {
                http.Response.StatusCode = StatusCodes.Status200OK;
                await http.Response.WriteAsJsonAsync(new TokenPair(
                    response.AccessToken!, response.RefreshToken!, "bearer", (long)(response.ExpiresIn ?? 0)));
            }
            else
            {
                http.Response.Headers.Remove("WWW-Authenticate");
                await Problems.WriteAsync(http, ProblemFor(response.Error, response.ErrorDescription));
            }

            context.HandleRequest();
        }

        private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult ProblemFor(string error, string? description) => error switch
        {
            OpenIddictConstants.Errors.InvalidGrant or OpenIddictConstants.Errors.InvalidToken =>
                Problems.Unauthorized(ErrorCodes.JwtInvalid, "The refresh token is invalid, expired, revoked or already used."),
            OpenIddictConstants.Errors.AccessDenied =>
                Problems.Forbidden(description ?? "Sign-in refused."),
            _ => Problems.Validation(description ?? error, status: StatusCodes.Status400BadRequest),
        };
    }
}

/// <summary>What every sign-in route returns.</summary>
public sealed record TokenPair(string AccessToken, string RefreshToken, string TokenType, long ExpiresIn);
