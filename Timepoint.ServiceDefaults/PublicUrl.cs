using System.ComponentModel.DataAnnotations;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The platform's public address (the AppHost parameter <c>public-url</c>): an absolute http or https URL whose path ends
/// with '/' (endpoints are resolved below it), without user info, query or fragment. Null passes: say [Required] for that.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class PublicUrlAttribute : ValidationAttribute
{
    public override bool IsValid(object? value) => value is null || value is Uri url && IsValidPublicUrl(url);

    public static bool IsValidPublicUrl(Uri url) =>
        url.IsAbsoluteUri
        && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp)
        && url.UserInfo.Length == 0
        && url.Query.Length == 0
        && url.Fragment.Length == 0
        && url.AbsolutePath.EndsWith('/');
}
