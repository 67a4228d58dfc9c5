using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace Timepoint.EndToEnd.Tests;

/// <summary>One answer the edge gave a test: what the drift check compares with the document.</summary>
public sealed record RecordedAnswer(string Method, string Path, int Status, string? ContentType, string? Body);

/// <summary>
/// Records every answer a test gets through <see cref="PlatformFixture.Gateway"/>. JSON bodies are buffered (they are
/// small); streams and images pass untouched, recorded by status alone.
/// </summary>
public sealed class RecordingHandler(ConcurrentQueue<RecordedAnswer> answers) : DelegatingHandler(new HttpClientHandler())
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        var contentType = response.Content.Headers.ContentType?.MediaType;
        string? body = null;
        if (contentType is not null && contentType.EndsWith("json", StringComparison.Ordinal))
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            body = await response.Content.ReadAsStringAsync(cancellationToken);
        }

        answers.Enqueue(new RecordedAnswer(request.Method.Method, request.RequestUri!.AbsolutePath, (int)response.StatusCode, contentType, body));
        return response;
    }
}

/// <summary>The document checks, run with node tools from tests/openapi (installed there with <c>npm ci</c> when missing).</summary>
public static class OpenApiChecks
{
    public static readonly string ToolsDirectory = Path.Combine(RepositoryRoot(), "tests", "openapi");

    /// <summary>Redocly's linter, recommended rules: the output, and whether it found no error.</summary>
    public static Task<(bool Passed, string Output)> LintAsync(string documentPath) =>
        RunAsync("node", [Path.Combine(ToolsDirectory, "node_modules", "@redocly", "cli", "bin", "cli.js"), "lint", documentPath,
            "--config", Path.Combine(ToolsDirectory, "redocly.yaml")]);

    /// <summary>Every recorded answer against the document's schema for its operation and status (drift.mjs).</summary>
    public static async Task<(bool Passed, string Output)> CheckDriftAsync(string documentPath, IEnumerable<RecordedAnswer> answers)
    {
        var recordings = Path.Combine(Path.GetTempPath(), $"timepoint-answers-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(recordings, JsonSerializer.Serialize(answers, JsonSerializerOptions.Web));
        try
        {
            return await RunAsync("node", [Path.Combine(ToolsDirectory, "drift.mjs"), documentPath, recordings]);
        }
        finally
        {
            File.Delete(recordings);
        }
    }

    private static readonly SemaphoreSlim Installing = new(1, 1);

    private static async Task EnsureInstalledAsync()
    {
        await Installing.WaitAsync();
        try
        {
            if (!Directory.Exists(Path.Combine(ToolsDirectory, "node_modules", "ajv")))
            {
                var (installed, output) = await RunCoreAsync("npm", ["ci", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(5));
                Assert.True(installed, "npm ci in tests/openapi failed:\n" + output);
            }
        }
        finally
        {
            Installing.Release();
        }
    }

    private static async Task<(bool, string)> RunAsync(string program, string[] arguments)
    {
        await EnsureInstalledAsync();
        return await RunCoreAsync(program, arguments, TimeSpan.FromMinutes(2));
    }

    private static async Task<(bool, string)> RunCoreAsync(string program, string[] arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = ToolsDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["NO_COLOR"] = "1";
        start.Environment["REDOCLY_TELEMETRY"] = "off";
        start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode == 0, await output + await errors);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Timepoint.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Timepoint.sln) is not above the test's folder.");
    }
}
