using System.Diagnostics;
using System.Reflection;
using System.Text.Json;

namespace Timepoint.EndToEnd.Tests;

/// <summary>
/// The deployment descriptions, produced once for the "deployment" collection without starting anything: the AppHost's publish
/// manifest (<c>--publisher manifest</c>, with every sign-in provider configured so their parameters are in it) and
/// the kustomize base and overlays rendered and schema-checked by <c>scripts/kubernetes-check</c>.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DeploymentCollection : ICollectionFixture<DeploymentFixture>
{
    public const string Name = "deployment";
}

public sealed class DeploymentFixture : IAsyncLifetime
{
    public static readonly string[] Services = ["gateway", "identity", "credits", "flash", "clockchain", "pro"];

    public static readonly string[] Kustomizations = ["base", "overlays/managed"];

    /// <summary>Provider parameters handed to the publish, as an operator who uses all three would.</summary>
    public static readonly string[] ProviderParameters =
    [
        "apple-client-id", "apple-client-secret", "apple-team-id", "apple-key-id", "apple-private-key",
        "google-client-id", "google-client-secret", "github-client-id", "github-client-secret",
    ];

    private readonly DirectoryInfo output = Directory.CreateTempSubdirectory("timepoint-manifest-");

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public JsonElement Manifest { get; private set; }

    /// <summary>The rendered objects of each kustomization (keyed as <see cref="Kustomizations"/>).</summary>
    public Dictionary<string, JsonElement[]> Rendered { get; } = [];

    public async Task InitializeAsync()
    {
        var configuration = typeof(DeploymentFixture).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var path = Path.Combine(output.FullName, "aspire-manifest.json");
        // The AppHost is built with this project (a project reference), in the same configuration.
        await RunAsync("dotnet",
            ["run", "--no-build", "-c", configuration, "--project", Path.Combine(RepositoryRoot, "Timepoint.AppHost"), "--no-launch-profile", "--",
                "--publisher", "manifest", "--output-path", path, .. ProviderParameters.Select(p => $"--Parameters:{p}=set-for-the-manifest")]);
        using (var document = JsonDocument.Parse(await File.ReadAllTextAsync(path)))
        {
            Manifest = document.RootElement.GetProperty("resources").Clone();
        }

        foreach (var kustomization in Kustomizations)
        {
            var json = await RunAsync(Path.Combine(RepositoryRoot, "scripts", "kubernetes-check"), [kustomization]);
            using var document = JsonDocument.Parse(json);
            Rendered[kustomization] = [.. document.RootElement.EnumerateArray().Select(o => o.Clone())];
        }
    }

    public Task DisposeAsync()
    {
        output.Delete(recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>Runs a command in the repository root; its standard output, or a failure naming what it printed.</summary>
    public static async Task<string> RunAsync(string command, string[] arguments)
    {
        var start = new ProcessStartInfo(command, arguments)
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{command} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await stderr}\n{await stdout}");
        }

        return await stdout;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Timepoint.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Timepoint.sln above {AppContext.BaseDirectory}.");
    }
}
