using Microsoft.Extensions.Options;
using Timepoint.Gateway.Routing;

namespace Timepoint.Gateway;

public static class EdgeApi
{
    /// <summary>Browsers may call from the configured origins, never the interactive authorization endpoint.</summary>
    public static WebApplication UseEdgeCors(this WebApplication app)
    {
        app.UseWhen(context => !context.Request.Path.StartsWithSegments("/connect/authorize"),
            branch => branch.UseCors(GatewayServices.CorsPolicy));
        return app;
    }

    /// <summary>
    /// On an https public address, every answer tells browsers to use https only (a year). The request reaching the edge
    /// is plain http from the balancer that ends TLS, so ASP.NET Core's UseHsts (which looks at the request) cannot decide.
    /// </summary>
    public static WebApplication UseEdgeHsts(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.PublicUrl?.Scheme == Uri.UriSchemeHttps)
        {
            // At the response's start, so nothing that rewrites the headers on the way (proxying, problems) loses it.
            app.Use((context, next) =>
            {
                context.Response.OnStarting(static response =>
                {
                    ((HttpResponse)response).Headers.StrictTransportSecurity = StrictTransportSecurity;
                    return Task.CompletedTask;
                }, context.Response);
                return next(context);
            });
        }

        return app;
    }

    public const string StrictTransportSecurity = "max-age=31536000";

    /// <summary>Every proxied request: the checks of <see cref="EdgePipeline"/>, then the forward.</summary>
    public static WebApplication MapEdgeProxy(this WebApplication app)
    {
        // Internal routes of every service are for services only: refused here, whatever follows.
        app.Map("/internal/{**rest}", () => Problems.Forbidden("Internal routes are not reachable from outside."));

        var pipeline = app.Services.GetRequiredService<EdgePipeline>();
        var policies = RoutePolicy.Build(app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value);
        app.MapReverseProxy(proxy => proxy.Use((context, forward) => pipeline.InvokeAsync(context, () => forward(context))))
            // Each route's endpoint carries its policy, so a request finds it with one look-up.
            .ConfigureEndpoints((endpoint, route) => endpoint.WithMetadata(policies[route.RouteId]));

        app.MapFallback(() => Problems.NotFound("No such route."));
        return app;
    }
}
