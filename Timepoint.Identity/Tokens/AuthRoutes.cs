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
    public const string AppleGrant = "urn:timepoint:grant-type:apple";
    public const string GoogleGrant = "urn:timepoint:grant-type:google";
    public const string GitHubGrant = "urn:timepoint:grant-type:github";
    public const string BrowserGrant = "urn:timepoint:grant-type:browser";

    /// <summary>Route -> grant type. Provider sign-ins join this table.</summary>
    public static readonly IReadOnlyDictionary<string, string> Grants = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["/api/v1/auth/refresh"] = OpenIddictConstants.GrantTypes.RefreshToken,
        ["/api/v1/auth/demo"] = DemoGrant,
        ["/api/v1/auth/dev/token"] = DevGrant,
        ["/api/v1/auth/service-token"] = ServiceGrant,
        ["/api/v1/auth/apple"] = AppleGrant,
        ["/api/v1/auth/google"] = GoogleGrant,
        ["/api/v1/auth/github"] = GitHubGrant,
    };

    /// <summary>
    /// The browser flow's callbacks (GET from the provider's redirect) are token requests too: the query's code and state
    /// become a <see cref="BrowserGrant"/> request, so the TokenPair handed to the client is minted like every other.
    /// </summary>
    public static readonly string[] Callbacks =
        ["/api/v1/auth/apple/callback", "/api/v1/auth/google/callback", "/api/v1/auth/github/callback"];

    /// <summary>What the provider's redirect may carry into the callback's token request; anything else (scope, authuser...) is dropped.</summary>
    private static readonly string[] CallbackParameters = ["code", "state", "error", "error_description"];

    public static readonly string[] CustomGrants = [DemoGrant, DevGrant, ServiceGrant, AppleGrant, GoogleGrant, GitHubGrant, BrowserGrant];

    public static IEnumerable<string> TokenEndpointPaths => Grants.Keys.Concat(Callbacks).Select(p => p.TrimStart('/'));

    private static readonly object HandoffKey = new();

    /// <summary>Makes a successful token response on this request a redirect to the client, the TokenPair in the fragment.</summary>
    public static void HandOffTo(HttpContext context, string redirectUri) => context.Items[HandoffKey] = redirectUri;

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
            // OpenIddict matches its endpoints with a trailing slash too: so must this, or such a request would reach it raw.
            var path = request.Path.Value is { Length: > 1 } raw ? raw.TrimEnd('/') : request.Path.Value ?? "";
            var isCallback = Callbacks.Contains(path, StringComparer.OrdinalIgnoreCase);
            if (isCallback && HttpMethods.IsGet(request.Method))
            {
                context.Items[JsonRouteKey] = true;
                var query = new QueryBuilder { { "grant_type", BrowserGrant } };
                foreach (var name in CallbackParameters)
                {
                    if (request.Query[name] is { Count: 1 } value && value[0] is { Length: <= 4096 } text)
                    {
                        query.Add(name, text);
                    }
                }

                SetForm(request, query);
                request.Method = HttpMethods.Post;
                request.QueryString = QueryString.Empty;
                await next(context);
                return;
            }

            var isSignIn = Grants.TryGetValue(path, out var grant);
            if (isCallback || (isSignIn && !HttpMethods.IsPost(request.Method)))
            {
                // Another method on a sign-in route or a callback: ours to refuse, not OpenIddict's (its OAuth error is not problem+json).
                context.Response.Headers.Allow = isCallback ? "GET" : "POST";
                await Problems.WriteAsync(context, Problems.Create(StatusCodes.Status405MethodNotAllowed, ErrorCodes.MethodNotAllowed,
                    "Method not allowed", $"{path} answers {context.Response.Headers.Allow}."));
                return;
            }

            if (!isSignIn)
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

            var form = new QueryBuilder { { "grant_type", grant! } };
            foreach (var (name, value) in fields!)
            {
                form.Add(name, value);
            }

            SetForm(request, form);
            await next(context);
        });
        return app;
    }

    private static void SetForm(HttpRequest request, QueryBuilder form)
    {
        var body = Encoding.UTF8.GetBytes(form.ToQueryString().Value![1..]);
        request.Body = new MemoryStream(body);
        request.ContentLength = body.Length;
        request.ContentType = "application/x-www-form-urlencoded";
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
            if (string.IsNullOrEmpty(response.Error) && http.Items[HandoffKey] is string redirectUri)
            {
                // The browser flow's end: the client's registered redirect URI gets the TokenPair in the fragment,
                // which browsers never send to a server or put in a Referer.
                var fragment = new QueryBuilder
                {
                    { "access_token", response.AccessToken! },
                    { "refresh_token", response.RefreshToken! },
                    { "token_type", "bearer" },
                    { "expires_in", ((long)(response.ExpiresIn ?? 0)).ToString(System.Globalization.CultureInfo.InvariantCulture) },
                };
                http.Response.StatusCode = StatusCodes.Status302Found;
                http.Response.Headers.Location = redirectUri + "#" + fragment.ToQueryString().Value![1..];
            }
            else if (string.IsNullOrEmpty(response.Error))
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
