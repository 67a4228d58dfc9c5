using System.Diagnostics;
using System.Text.Json;

namespace Timepoint.Client.Tests;

/// <summary>
/// The TypeScript client (clients/typescript): generated from the document the edge serves, by openapi-typescript,
/// type-checked by tsc, then the README's "Try it" calls run with it (node) against the running platform.
/// </summary>
[Collection(ClientPlatformCollection.Name)]
public sealed class TypeScriptClientTests(ClientPlatformFixture platform)
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task The_client_generated_from_the_served_document_type_checks_and_runs_the_try_it_calls()
    {
        var directory = Path.Combine(RepositoryRoot(), "clients", "typescript");
        await InstallPackagesAsync(directory);
        var environment = new Dictionary<string, string>
        {
            ["TIMEPOINT_OPENAPI_URL"] = new Uri(platform.Edge, "/openapi/v1.json").ToString(),
            ["TIMEPOINT_URL"] = platform.Edge.ToString().TrimEnd('/'),
        };

        await RunAsync(directory, environment, "npm", "run", "--silent", "generate");
        await RunAsync(directory, environment, "npm", "run", "--silent", "build");
        var output = await RunAsync(directory, environment, "npm", "run", "--silent", "try-it");

        // try-it.js prints one JSON object: what each call answered.
        using var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        var r = result.RootElement;
        Assert.Equal(50, r.GetProperty("balance").GetInt64());
        Assert.Equal(5, r.GetProperty("charged").GetInt64());
        Assert.Equal(45, r.GetProperty("balance_after").GetInt64());
        Assert.StartsWith("tp_gw_", r.GetProperty("key_prefix").GetString(), StringComparison.Ordinal);
        Assert.True(r.GetProperty("clockchain_nodes").GetInt32() > 0);
        var history = r.GetProperty("history_types").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Contains("signup_bonus", history);
        Assert.Contains("generation", history);
    }

    /// <summary>npm ci once: again only when package-lock.json changed since node_modules was made from it.</summary>
    private static async Task InstallPackagesAsync(string directory)
    {
        var installed = new FileInfo(Path.Combine(directory, "node_modules", ".package-lock.json"));
        var lockFile = new FileInfo(Path.Combine(directory, "package-lock.json"));
        if (!installed.Exists || installed.LastWriteTimeUtc < lockFile.LastWriteTimeUtc)
        {
            await RunAsync(directory, [], "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error");
        }
    }

    private static async Task<string> RunAsync(string directory, Dictionary<string, string> environment, string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(StepTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} {string.Join(' ', arguments)} did not finish within {StepTimeout}.");
        }

        var (output, errors) = (await stdout, await stderr);
        Assert.True(process.ExitCode == 0,
            $"{command} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{output}\n{errors}");
        return output;
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

        throw new DirectoryNotFoundException("Timepoint.sln was not found above " + AppContext.BaseDirectory);
    }
}
