using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Xunit;

namespace Timepoint.Testing;

/// <summary>The public-url values identity and the edge must refuse at start (the AppHost parameter public-url).</summary>
public static class PublicUrls
{
    public static TheoryData<string> Bad =>
    [
        "api.example.test", "ftp://api.example.test/", "https://api.example.test/?tenant=1", "https://api.example.test/#top",
        "https://user@api.example.test/", "https://api.example.test/edge",
    ];

    /// <summary>Starts <paramref name="service"/> with <paramref name="setting"/> = <paramref name="value"/> and asserts it refuses, naming the setting.</summary>
    public static void AssertRefusedAtStart<TProgram>(WebApplicationFactory<TProgram> service, string setting, string value)
        where TProgram : class
    {
        using var started = service.WithWebHostBuilder(b => b.UseSetting(setting, value));

        var failure = Assert.ThrowsAny<Exception>(() => started.CreateClient());

        Assert.Contains(setting, failure.ToString(), StringComparison.Ordinal);
    }
}
