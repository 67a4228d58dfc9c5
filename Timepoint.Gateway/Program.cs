using Timepoint.Gateway;
using Timepoint.Gateway.Proxy;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();

var app = builder.Build();

app.UseHeaderHygiene();
app.MapDefaultEndpoints(HealthEndpoints.ServiceBody("timepoint-api-gateway"));
app.UseEdgeCors();
app.MapEdgeProxy();

app.Run();

public partial class Program;
