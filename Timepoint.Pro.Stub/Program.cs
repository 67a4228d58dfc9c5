using Timepoint.Pro.Stub;
using Timepoint.Pro.Stub.Simulations;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayTrust();
builder.AddServiceKeys();
builder.AddProServices();
builder.AddServiceOpenApi();

var app = builder.Build();

app.MapDefaultEndpoints(HealthEndpoints.ServiceBody("timepoint-pro-cloud"));
app.UseTextInputValidation();
app.UseGatewayTrust();
app.MapSimulationsApi();
app.MapInternalUsersApi();
app.MapServiceOpenApi();

app.Run();

public partial class Program;
