var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();

var app = builder.Build();

app.MapDefaultEndpoints(HealthEndpoints.ServiceBody("timepoint-clockchain"));

app.Run();

public partial class Program;
