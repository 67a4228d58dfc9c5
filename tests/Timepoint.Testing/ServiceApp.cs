using Xunit;

namespace Timepoint.Testing;

/// <summary>A service in memory with one client, shared by the tests of a class (an xunit class fixture).</summary>
public abstract class ServiceApp<TProgram> : IAsyncLifetime where TProgram : class
{
    public ServiceFactory<TProgram> Factory { get; } = new();

    public HttpClient Client { get; private set; } = null!;

    public virtual Task InitializeAsync()
    {
        Client = Factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
    }
}
