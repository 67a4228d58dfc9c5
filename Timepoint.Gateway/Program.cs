using Timepoint.Gateway;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();

var app = builder.Build();

app.MapDefaultEndpoints(HealthEndpoints.ServiceBody("timepoint-api-gateway"));

app.Run();

public partial class Program;
