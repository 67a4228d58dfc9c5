using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>A service's own keys (section <c>Security</c>): what it accepts in X-Service-Key and X-Admin-Key.</summary>
public sealed class SecurityOptions
{
    public const string Section = "Security";

    [Required(ErrorMessage = "Security:ServiceKey (env Security__ServiceKey) must be set.")]
    [MinLength(32, ErrorMessage = "Security:ServiceKey must be at least 32 characters.")]
    public string ServiceKey { get; set; } = "";

    [Required(ErrorMessage = "Security:AdminKey (env Security__AdminKey) must be set.")]
    [MinLength(32, ErrorMessage = "Security:AdminKey must be at least 32 characters.")]
    public string AdminKey { get; set; } = "";
}

public static class ServiceKeyExtensions
{
    public const string ServiceKeyHeader = "X-Service-Key";
    public const string AdminKeyHeader = "X-Admin-Key";

    /// <summary>Binds and validates <see cref="SecurityOptions"/> at start: a missing key stops the service, naming the setting.</summary>
    public static TBuilder AddServiceKeys<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<SecurityOptions>()
            .BindConfiguration(SecurityOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        return builder;
    }

    /// <summary>Only callers presenting this service's X-Service-Key reach the endpoints.</summary>
    public static TBuilder RequireServiceKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter((context, next) =>
            Check(context, next, ServiceKeyHeader, context.HttpContext.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.ServiceKey))
            .WithMetadata(new CallerCredentials(ServiceOpenApi.ServiceKey));

    /// <summary>Only callers presenting this service's X-Admin-Key reach the endpoints.</summary>
    public static TBuilder RequireAdminKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter((context, next) =>
            Check(context, next, AdminKeyHeader, context.HttpContext.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.AdminKey))
            .WithMetadata(new CallerCredentials(ServiceOpenApi.AdminKey));

    private static ValueTask<object?> Check(EndpointFilterInvocationContext context, EndpointFilterDelegate next, string header, string expected)
    {
        var presented = context.HttpContext.Request.Headers[header];
        if (presented.Count == 0 || string.IsNullOrEmpty(presented[0]))
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return ValueTask.FromResult<object?>(Problems.Unauthorized(ErrorCodes.AuthMissing, $"{header} is required."));
        }

        return presented.Count == 1 && KeysMatch(presented[0]!, expected)
            ? next(context)
            : ValueTask.FromResult<object?>(Problems.Forbidden($"{header} is not valid for this service."));
    }

    /// <summary>Constant-time comparison of SHA-256 digests, so neither length nor content leaks through timing.</summary>
    public static bool KeysMatch(string presented, string expected) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)),
            SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
