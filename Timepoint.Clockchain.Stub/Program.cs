using Timepoint.Clockchain.Stub;
using Timepoint.Clockchain.Stub.Moments;
using Timepoint.Clockchain.Stub.Stats;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayTrust();
builder.AddClockchainServices();
builder.AddServiceOpenApi();

var app = builder.Build();

app.MapDefaultEndpoints(HealthEndpoints.ServiceBody("timepoint-clockchain"));
app.UseTextInputValidation();
app.UseGatewayTrust();
app.MapMomentsApi();
app.MapStatsApi();
app.MapServiceOpenApi();

app.Run();

public partial class Program;
