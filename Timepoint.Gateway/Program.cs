using Scalar.AspNetCore;
using Timepoint.Gateway;
using Timepoint.Gateway.Proxy;
using Timepoint.Gateway.Routing;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();

var app = builder.Build();

app.UseHeaderHygiene();
app.UseEdgeHsts();
app.MapDefaultEndpoints(HealthEndpoints.ServiceBody("timepoint-api-gateway"));
app.UseEdgeCors();
app.MapEdgeOpenApi();
if (app.Environment.IsDevelopment())
{
    app.MapScalarApiReference(); // browsable reference of /openapi/v1.json at /scalar/v1
}

app.MapEdgeProxy();

app.Run();

public partial class Program;
