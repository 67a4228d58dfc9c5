using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every Timepoint service shares: telemetry, health, resilience and service discovery.
/// </summary>
public static class Extensions
{
    public const string HealthPath = "/health";
    public const string AlivePath = "/alive";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        // The platform speaks snake_case JSON (access_token, balance_after, ...) and problem+json errors with a code.
        builder.Services.ConfigureHttpJsonOptions(options =>
            options.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
            context.ProblemDetails.Extensions.TryAdd("code", ErrorCodes.ForStatus(context.ProblemDetails.Status ?? 500)));
        builder.Services.AddSingleton<Microsoft.AspNetCore.Http.IProblemDetailsWriter, ProblemJsonFallbackWriter>();
        builder.Services.AddExceptionHandler<TransientOutageHandler>();
        builder.Services.AddExceptionHandler<UnkeepableTextHandler>();

        // Malformed bodies and query values are the client's fault (400 problem) in every environment;
        // Development would otherwise throw them as 500s.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(options => options.ThrowOnBadRequest = false);

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var telemetry = builder.Services.AddOpenTelemetry();
        if (builder.Configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>()?.Metrics ?? true)
        {
            telemetry.WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(TimepointTelemetry.MeterPrefix + "*"));
        }

        telemetry.WithTracing(tracing => tracing
            .SetSampler(sp => sp.GetRequiredService<IOptions<TelemetryOptions>>().Value.TraceSampler(sp.GetRequiredService<IHostEnvironment>()))
            .AddSource(builder.Environment.ApplicationName)
            .AddSource(TimepointTelemetry.MeterPrefix + "*")
            // Probes would drown the traces that matter.
            .AddAspNetCoreInstrumentation(o => o.Filter = context =>
                !context.Request.Path.StartsWithSegments(HealthPath) &&
                !context.Request.Path.StartsWithSegments(AlivePath))
            .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [HealthEndpoints.LiveTag]);

        // A dependency that hangs must not hang the probe: every check gets a timeout unless it set one.
        builder.Services.PostConfigure<HealthCheckServiceOptions>(options =>
        {
            foreach (var registration in options.Registrations)
            {
                if (registration.Timeout == Timeout.InfiniteTimeSpan)
                {
                    registration.Timeout = HealthEndpoints.CheckTimeout;
                }
            }
        });

        builder.Services.AddOutputCache(options =>
            options.AddPolicy(HealthEndpoints.CachePolicy, policy => policy.Expire(HealthEndpoints.CacheDuration)));
        builder.Services.AddRequestTimeouts(options =>
            options.AddPolicy(HealthEndpoints.TimeoutPolicy, HealthEndpoints.RequestTimeout));

        return builder;
    }
}
