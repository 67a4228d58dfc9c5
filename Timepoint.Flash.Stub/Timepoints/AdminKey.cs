using Microsoft.Extensions.Options;

namespace Timepoint.Flash.Stub.Timepoints;

/// <summary>Routes open to a gateway user and, for any owner's data, to a caller presenting flash's X-Admin-Key.</summary>
public static class AdminKey
{
    public static bool IsPresented(HttpContext context) =>
        context.Request.Headers.ContainsKey(ServiceKeyExtensions.AdminKeyHeader);

    /// <summary>A presented admin key must be right (else 403); without one, a gateway user is required (else 401).</summary>
    public static ValueTask<object?> OrGatewayUser(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (IsPresented(http))
        {
            var presented = http.Request.Headers[ServiceKeyExtensions.AdminKeyHeader];
            var expected = http.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.AdminKey;
            return presented.Count == 1 && !string.IsNullOrEmpty(presented[0]) && ServiceKeyExtensions.KeysMatch(presented[0]!, expected)
                ? next(context)
                : ValueTask.FromResult<object?>(Problems.Forbidden($"{ServiceKeyExtensions.AdminKeyHeader} is not valid for this service."));
        }

        if (http.User.GetUserId() is null)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return ValueTask.FromResult<object?>(Problems.Unauthorized(ErrorCodes.AuthMissing, "Authentication is required."));
        }

        return next(context);
    }
}
