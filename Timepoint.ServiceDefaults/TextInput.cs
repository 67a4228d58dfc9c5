using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Text the platform can keep: no U+0000 (PostgreSQL refuses it in text and jsonb) and no lone UTF-16 surrogate (no UTF-8
/// spelling exists for it; System.Text.Json throws on reading one). A request carrying either in a query value, a form
/// value or any JSON string or member name is answered 400 <c>validation_failed</c> naming the field, before an endpoint
/// sees it, so no handler, store or parser can turn it into a 500.
/// </summary>
public static class TextInput
{
    /// <summary>Bodies up to this size are checked; a larger one is left to the route's own size limit.</summary>
    public const int MaxCheckedBody = 1024 * 1024;

    internal const string Message = "Text may not contain U+0000 or an unpaired UTF-16 surrogate.";

    private const string UnreadableForm = "\0unreadable form";
    private const string UnreadableFormMessage = "The body cannot be read as the form its Content-Type names.";

    /// <summary>Checks every request of the service (call early in the pipeline, before anything reads the request).</summary>
    public static IApplicationBuilder UseTextInputValidation(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (await FindInvalidFieldAsync(context.Request) is { } field)
            {
                await Problems.WriteAsync(context, field == UnreadableForm
                    ? Problems.Validation(UnreadableFormMessage, new Dictionary<string, string[]> { ["body"] = [UnreadableFormMessage] },
                        StatusCodes.Status400BadRequest)
                    : Problem(field));
                return;
            }

            await next(context);
        });

    public static ProblemHttpResult Problem(string field) =>
        Problems.Validation(Message, new Dictionary<string, string[]> { [field] = [Message] }, StatusCodes.Status400BadRequest);

    /// <summary>False when the text holds U+0000 or a surrogate that is not half of a pair.</summary>
    public static bool IsKeepable(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return false;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The dotted path of the first JSON string or member name that is not keepable text (escaped NUL or lone surrogate,
    /// or invalid UTF-8), or null. Malformed JSON is null too: the route reports that in its own words.
    /// </summary>
    public static string? FindInvalidJsonField(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        // The open containers, each with its own path and whether it is an array; the member being read in the innermost object.
        var containers = new Stack<(string Path, bool Array)>();
        var member = "";
        try
        {
            while (reader.Read())
            {
                var (path, inArray) = containers.Count == 0 ? ("", false) : containers.Peek();
                var here = inArray ? path : member;
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        containers.Push((here, reader.TokenType == JsonTokenType.StartArray));
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        containers.Pop();
                        break;
                    case JsonTokenType.PropertyName when !IsKeepable(ref reader):
                        return path.Length == 0 ? "body" : path;
                    case JsonTokenType.PropertyName:
                        var name = reader.GetString()!;
                        member = path.Length == 0 ? name : path + "." + name;
                        break;
                    case JsonTokenType.String when !IsKeepable(ref reader):
                        return here.Length == 0 ? "body" : here;
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return null;
    }

    private static bool IsKeepable(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return Utf8.IsValid(reader.ValueSpan);
        }

        try
        {
            return IsKeepable(reader.GetString());
        }
        catch (InvalidOperationException)
        {
            return false; // an escape for a lone surrogate cannot be read as a string
        }
    }

    private static async Task<string?> FindInvalidFieldAsync(HttpRequest request)
    {
        foreach (var (name, values) in request.Query)
        {
            if (!IsKeepable(name) || values.Any(v => !IsKeepable(v)))
            {
                return name;
            }
        }

        if (request.HasFormContentType)
        {
            request.EnableBuffering();
            IFormCollection form;
            try
            {
                form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
            }
            catch (InvalidDataException)
            {
                // ASP.NET's form reader refuses %00 itself, and over-long or too many values; left alone, that is a 500
                // wherever the form is read next (OpenIddict's token endpoint, for one).
                request.Body.Position = 0;
                return await FieldWithNulAsync(request) ?? "body";
            }
            catch (IOException)
            {
                // A multipart body that is not what its boundary says (the seeded fuzzer's find): unreadable, the client's fault.
                return UnreadableForm;
            }

            request.Body.Position = 0;
            foreach (var (name, values) in form)
            {
                if (!IsKeepable(name) || values.Any(v => !IsKeepable(v)))
                {
                    return name;
                }
            }

            return null;
        }

        if (request.HasJsonContentType() && request.ContentLength is null or (> 0 and <= MaxCheckedBody))
        {
            request.EnableBuffering();
            var size = (int)Math.Min(request.ContentLength ?? MaxCheckedBody + 1L, MaxCheckedBody + 1L);
            var buffer = ArrayPool<byte>.Shared.Rent(size);
            try
            {
                var length = 0;
                int read;
                while (length < size && (read = await request.Body.ReadAsync(buffer.AsMemory(length, size - length), request.HttpContext.RequestAborted)) > 0)
                {
                    length += read;
                }

                request.Body.Position = 0;
                return length > MaxCheckedBody ? null : FindInvalidJsonField(buffer.AsSpan(0, length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return null;
    }

    /// <summary>The first form field whose name or value decodes to a NUL, from the raw (buffered) body.</summary>
    private static async Task<string?> FieldWithNulAsync(HttpRequest request)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8, leaveOpen: true);
        var buffer = new char[(int)Math.Min(request.ContentLength ?? MaxCheckedBody, MaxCheckedBody)];
        var length = await reader.ReadBlockAsync(buffer.AsMemory(), request.HttpContext.RequestAborted);
        request.Body.Position = 0;
        foreach (var pair in new string(buffer, 0, length).Split('&'))
        {
            var parts = pair.Split('=', 2);
            var name = Uri.UnescapeDataString(parts[0].Replace('+', ' '));
            if (name.Contains('\0') || (parts.Length == 2 && Uri.UnescapeDataString(parts[1].Replace('+', ' ')).Contains('\0')))
            {
                return IsKeepable(name) ? name : "body";
            }
        }

        return null;
    }

    private static bool IsKeepable(string? text) => text is null || IsKeepable(text.AsSpan());
}

/// <summary>
/// The backstop behind <see cref="TextInput"/>: text that reached a store anyway (from a header, a route value, a path
/// the check does not read) and was refused there is the client's 400, not a 500. PostgreSQL refuses U+0000 in text
/// (22021) and in jsonb (22P05); a strict UTF-8 encoder refuses a lone surrogate.
/// </summary>
public sealed class UnkeepableTextHandler(IProblemDetailsService problems) : Microsoft.AspNetCore.Diagnostics.IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsUnkeepableText(exception) || httpContext.Response.HasStarted)
        {
            return false;
        }

        return await problems.TryWriteAsync(httpContext, exception, StatusCodes.Status400BadRequest, "Validation failed", TextInput.Message,
            ErrorCodes.ValidationFailed);
    }

    public static bool IsUnkeepableText(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is System.Data.Common.DbException { SqlState: "22021" or "22P05" } or EncoderFallbackException)
            {
                return true;
            }
        }

        return false;
    }
}
