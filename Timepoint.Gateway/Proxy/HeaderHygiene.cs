using System.Text.RegularExpressions;

namespace Timepoint.Gateway.Proxy;

/// <summary>
/// Removes every identity or trust header a client sent, on every route, whatever its case or spelling
/// (<c>X_User_Id</c> reaches some backends as <c>X-User-ID</c>), and gives the request a sane X-Request-ID. Before the
/// client's <c>X-Forwarded-For</c> goes, the request's <see cref="ClientAddress"/> is read from it when the connection
/// comes from a trusted proxy (<c>Gateway:TrustedProxies</c>).
/// </summary>
public static partial class HeaderHygiene
{
    public const string RequestIdHeader = "X-Request-ID";

    /// <summary>Flash's failure injection; only a test platform lets it through (<see cref="GatewayOptions.ForwardFailureInjection"/>).</summary>
    public const string FailureInjectionHeader = "X-Flash-Fail";

    public static WebApplication UseHeaderHygiene(this WebApplication app)
    {
        var trusted = app.Services.GetRequiredService<TrustedProxies>();
        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value;
        var forwardFailureInjection = options.ForwardFailureInjection;
        var scan = !options.Attribution.IsOff(AttributionOptions.HeaderHygiene);
        app.Use((context, next) =>
        {
            var headers = context.Request.Headers;
            var client = ClientAddress.Resolve(context.Connection.RemoteIpAddress,
                trusted.IsEmpty ? default : headers[GatewayHeaders.ForwardedFor], trusted);
            List<string>? spoofed = null;
            foreach (var name in scan ? headers.Keys : [])
            {
                if (IsTrustHeader(name) || (!forwardFailureInjection && IsFailureInjectionHeader(name)))
                {
                    (spoofed ??= []).Add(name);
                }
            }

            spoofed?.ForEach(name => headers.Remove(name));

            var requestId = headers[RequestIdHeader].Count == 1 && SaneRequestId().IsMatch(headers[RequestIdHeader][0]!)
                ? headers[RequestIdHeader][0]!
                : Guid.NewGuid().ToString("N");
            headers[RequestIdHeader] = requestId;
            context.Features.Set(new EdgeArrival(requestId, client));
            context.Response.Headers[RequestIdHeader] = requestId;
            if (FirstUnsendable(headers) is { } unsendable)
            {
                // The forwarder cannot send such a value on (it was a 502 after the edge had done its work): the client's fault.
                return Problems.WriteAsync(context, Problems.Validation(UnsendableMessage,
                    new Dictionary<string, string[]> { [unsendable] = [UnsendableMessage] }, StatusCodes.Status400BadRequest));
            }

            return next(context);
        });
        return app;
    }

    private const string UnsendableMessage = "Header values may hold only visible ASCII, spaces and tabs (RFC 9110 section 5.5).";

    /// <summary>The first header whose value holds a control character or a byte beyond ASCII, or null.</summary>
    private static string? FirstUnsendable(IHeaderDictionary headers)
    {
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                foreach (var c in value ?? "")
                {
                    if (c is > '~' or (< ' ' and not '\t'))
                    {
                        return name;
                    }
                }
            }
        }

        return null;
    }

    private static bool IsFailureInjectionHeader(string name) =>
        name.Replace('_', '-').Equals(FailureInjectionHeader, StringComparison.OrdinalIgnoreCase);

    /// <summary>Identity and trust headers only the edge may set; compared with case and '_' / '-' folded.</summary>
    public static bool IsTrustHeader(string name)
    {
        Span<char> folded = stackalloc char[Math.Min(name.Length, 256)];
        var length = 0;
        foreach (var c in name.AsSpan(0, folded.Length))
        {
            folded[length++] = c == '_' ? '-' : char.ToLowerInvariant(c);
        }

        var n = folded[..length];
        return n.SequenceEqual("x-user-id") || n.SequenceEqual("x-userid") || n.SequenceEqual("x-api-key-id")
            || n.StartsWith("x-auth-") || n.StartsWith("x-gateway-") || n.StartsWith("x-forwarded-")
            || n.SequenceEqual("forwarded") || n.SequenceEqual("x-real-ip") || n.SequenceEqual("x-original-for");
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex SaneRequestId();
}

/// <summary>What the edge knows of a request as it arrives, before routing decides anything: its sane request id and its client.</summary>
public sealed record EdgeArrival(string RequestId, ClientAddress Client)
{
    /// <summary>The arrival <see cref="HeaderHygiene"/> recorded; the connection's address and a fresh id when it did not run.</summary>
    public static EdgeArrival Of(HttpContext context) => context.Features.Get<EdgeArrival>()
        ?? new EdgeArrival(Guid.NewGuid().ToString("N"), new ClientAddress(ClientAddress.Normalise(context.Connection.RemoteIpAddress)));
}
