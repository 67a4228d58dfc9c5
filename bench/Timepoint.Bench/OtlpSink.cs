namespace Timepoint.Bench;

/// <summary>
/// Stands in for the telemetry collector: accepts OTLP/HTTP exports (traces, metrics, logs) and drops them, so the services
/// pay what they pay in production to batch, serialize and send their telemetry, without a dashboard in the benchmark.
/// </summary>
public static class OtlpSink
{
    public static async Task RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        long exports = 0;
        long bytes = 0;
        app.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                Interlocked.Add(ref bytes, read);
            }

            Interlocked.Increment(ref exports);
            // An empty Export*ServiceResponse: full success.
            context.Response.ContentType = "application/x-protobuf";
        });
        app.MapGet("/stats", () => Results.Text($"exports={Interlocked.Read(ref exports)} bytes={Interlocked.Read(ref bytes)}\n"));
        await app.RunAsync();
    }
}
