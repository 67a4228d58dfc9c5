using Timepoint.Flash.Stub.FailureInjection;
using Timepoint.Flash.Stub.Storage;
using Timepoint.Flash.Stub.Timepoints;

namespace Timepoint.Flash.Stub;

public static class FlashServices
{
    /// <summary>Storage in <c>flashdb</c> (schema applied before the server listens), generation, async jobs and failure injection.</summary>
    public static IHostApplicationBuilder AddFlashServices(this IHostApplicationBuilder builder)
    {
        // Fail fast while the database is away (503 with Retry-After), well inside the edge's upstream timeout; the few
        // statements that run on every request are prepared once per connection.
        builder.AddNpgsqlDataSource("flashdb", configureDataSourceBuilder: data =>
        {
            data.ConnectionStringBuilder.Timeout = 3;
            data.ConnectionStringBuilder.MaxAutoPrepare = 32;
        });
        builder.Services.AddHostedService<FlashSchema>();
        builder.Services.AddSingleton<TimepointStore>();

        builder.Services.AddOptions<GenerationOptions>()
            .BindConfiguration(GenerationOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<TimepointGenerator>();
        builder.Services.AddSingleton<AsyncGenerationQueue>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AsyncGenerationQueue>());

        builder.Services.AddOptions<FailureInjectionOptions>()
            .BindConfiguration(FailureInjectionOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<FailureInjector>();
        return builder;
    }
}
