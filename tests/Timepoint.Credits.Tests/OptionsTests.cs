using Microsoft.Extensions.Options;

namespace Timepoint.Credits.Tests;

public sealed class OptionsTests
{
    [Fact]
    public async Task Configured_costs_override_the_defaults()
    {
        await using var factory = new ServiceFactory<Program>();
        await factory.UseDatabaseAsync("creditsdb");
        factory.Settings["Credits:Costs:chat"] = "3";
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/api/v1/credits/costs");

        var costs = (await CreditsApp.Ok(response)).GetProperty("costs");
        Assert.Equal(3, costs.GetProperty("chat").GetInt64());
        Assert.Equal(5, costs.GetProperty("generate_balanced").GetInt64());
    }

    [Theory]
    [InlineData("Credits:Costs:chat", "0")]
    [InlineData("Credits:Costs:Chat", "1")]
    [InlineData("Credits:SignupBonus", "-1")]
    [InlineData("Credits:ReservationTimeoutSeconds", "0")]
    public async Task Bad_credits_settings_stop_the_service_at_start(string key, string value)
    {
        await using var factory = new ServiceFactory<Program>();
        await factory.UseDatabaseAsync("creditsdb");
        factory.Settings[key] = value;

        var error = Record.Exception(() => factory.CreateClient());

        Assert.IsType<OptionsValidationException>(error);
    }
}
