using Timepoint.AppHost;

namespace Timepoint.EndToEnd.Tests;

public sealed class InfrastructureModeTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("auto")]
    [InlineData(" AUTO ")]
    public void Auto_picks_containers_when_a_runtime_answers(string? setting)
    {
        Assert.Equal(InfrastructureMode.Containers, InfrastructureModeSelector.Resolve(setting, () => true));
        Assert.Equal(InfrastructureMode.Local, InfrastructureModeSelector.Resolve(setting, () => false));
    }

    [Theory]
    [InlineData("containers", InfrastructureMode.Containers)]
    [InlineData("Container", InfrastructureMode.Containers)]
    [InlineData("local", InfrastructureMode.Local)]
    public void An_explicit_mode_never_probes_the_runtime(string setting, InfrastructureMode expected)
    {
        Assert.Equal(expected, InfrastructureModeSelector.Resolve(setting, () => throw new InvalidOperationException("probed")));
    }

    [Fact]
    public void An_unknown_mode_is_refused_with_the_setting_named()
    {
        var error = Assert.Throws<InvalidOperationException>(() => InfrastructureModeSelector.Resolve("kubernetes", () => true));
        Assert.Contains("Infrastructure:Mode", error.Message);
    }

    [Fact]
    public void A_missing_runtime_client_does_not_answer()
    {
        Assert.False(InfrastructureModeSelector.ContainerRuntimeAnswers("no-such-container-runtime", TimeSpan.FromSeconds(5)));
    }
}
