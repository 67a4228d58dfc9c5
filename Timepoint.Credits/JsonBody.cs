using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Timepoint.ServiceDefaults;

namespace Timepoint.Credits;

/// <summary>
/// Reads a request body as a JSON object and its fields one by one, so every bad value (a fractional or overflowing number,
/// a string where a number belongs, a malformed id) becomes a 422 <c>validation_failed</c> naming the field, not a framework 400.
/// </summary>
public sealed class JsonBody
{
    private static readonly JsonElement EmptyObject = CreateEmptyObject();

    private readonly JsonElement root;
    private readonly Dictionary<string, string[]> errors = new(StringComparer.Ordinal);

    private JsonBody(JsonElement root) => this.root = root;

    /// <summary>The body as an object, or a 400 problem when it is not one JSON object (or repeats a property).</summary>
    public static async Task<(JsonBody? Body, ProblemHttpResult? Problem)> ReadAsync(HttpRequest request, bool optional = false)
    {
        // An optional body may be left out entirely (no content, or an empty one whatever its type).
        if (optional && (request.ContentLength == 0 || (request.ContentLength is null && !request.HasJsonContentType())))
        {
            return (new JsonBody(EmptyObject), null);
        }

        if (!request.HasJsonContentType())
        {
            return (null, Problems.Validation("The body must be JSON (Content-Type: application/json).", status: StatusCodes.Status415UnsupportedMediaType));
        }

        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, default, request.HttpContext.RequestAborted);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, Problems.Validation("The body must be a JSON object.", status: StatusCodes.Status400BadRequest));
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            if (root.EnumerateObject().Any(p => !names.Add(p.Name)))
            {
                return (null, Problems.Validation("The body repeats a property.", status: StatusCodes.Status400BadRequest));
            }

            return (new JsonBody(root.Clone()), null);
        }
        catch (JsonException)
        {
            return (null, Problems.Validation("The body is not valid JSON.", status: StatusCodes.Status400BadRequest));
        }
    }

    /// <summary>The fields that were wrong, as a 422 problem; null when all were fine.</summary>
    public ProblemHttpResult? Problem => errors.Count == 0 ? null : Problems.Validation("The request body is not valid.", errors);

    /// <summary>A required user id: a UUID string, not the empty UUID.</summary>
    public Guid UserId(string name)
    {
        if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String &&
            Guid.TryParse(value.GetString(), out var id) && id != Guid.Empty)
        {
            return id;
        }

        Fail(name, $"{name} must be a user id (a UUID string).");
        return Guid.Empty;
    }

    /// <summary>A required array of 1 to <paramref name="max"/> ids (UUID strings, not the empty UUID).</summary>
    public Guid[] Ids(string name, int max)
    {
        if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array &&
            value.GetArrayLength() is var count && count >= 1 && count <= max)
        {
            var ids = new Guid[count];
            var i = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || !Guid.TryParse(item.GetString(), out ids[i]) || ids[i] == Guid.Empty)
                {
                    Fail(name, $"{name}[{i}] must be an id (a UUID string).");
                    return [];
                }

                i++;
            }

            return ids;
        }

        Fail(name, string.Create(CultureInfo.InvariantCulture, $"{name} must be an array of 1 to {max} ids (UUID strings)."));
        return [];
    }

    /// <summary>A required whole number from 1 to <paramref name="max"/>; fractions, exponents, strings and overflow are refused.</summary>
    public long PositiveWholeNumber(string name, long max)
    {
        if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number &&
            value.TryGetInt64(out var number) && number >= 1 && number <= max)
        {
            return number;
        }

        Fail(name, string.Create(CultureInfo.InvariantCulture, $"{name} must be a whole number from 1 to {max}."));
        return 0;
    }

    /// <summary>A required non-empty string of at most <paramref name="maxLength"/> characters.</summary>
    public string RequiredString(string name, int maxLength)
    {
        var text = OptionalString(name, maxLength);
        if (text is null && !errors.ContainsKey(name))
        {
            Fail(name, $"{name} is required.");
        }

        return text ?? "";
    }

    /// <summary>An optional string (absent or null), non-empty and at most <paramref name="maxLength"/> characters when given.</summary>
    public string? OptionalString(string name, int maxLength)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text && text.Length <= maxLength)
        {
            return text;
        }

        Fail(name, string.Create(CultureInfo.InvariantCulture, $"{name} must be a string of 1 to {maxLength} characters."));
        return null;
    }

    /// <summary>An optional id (absent or null), a UUID string when given.</summary>
    public Guid? OptionalId(string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String && Guid.TryParse(value.GetString(), out var id) && id != Guid.Empty)
        {
            return id;
        }

        Fail(name, $"{name} must be an id (a UUID string).");
        return null;
    }

    /// <summary>An optional API-key credit cap (absent or null): <c>{"amount": 1..10^9, "period": "day" | "month" | "total"}</c>.</summary>
    public KeyCreditLimit? OptionalCreditLimit(string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Object && value.EnumerateObject().Count() == 2
            && value.TryGetProperty("amount", out var amount) && amount.ValueKind == JsonValueKind.Number
            && amount.TryGetInt64(out var credits) && credits is >= 1 and <= KeyCreditLimit.MaxAmount
            && value.TryGetProperty("period", out var period) && period.ValueKind == JsonValueKind.String
            && KeyCreditLimit.Periods.Contains(period.GetString()))
        {
            return new KeyCreditLimit(credits, period.GetString()!);
        }

        Fail(name, $"{name} must be {{\"amount\": 1 to {KeyCreditLimit.MaxAmount}, \"period\": \"day\", \"month\" or \"total\"}}.");
        return null;
    }

    public void Fail(string name, string message) => errors[name] = [message];

    private static JsonElement CreateEmptyObject()
    {
        using var document = JsonDocument.Parse("{}");
        return document.RootElement.Clone();
    }
}
