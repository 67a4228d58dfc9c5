var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddNpgsqlDataSource("creditsdb");

var app = builder.Build();

app.MapDefaultEndpoints(HealthEndpoints.ServiceBody("timepoint-credits"));

app.Run();

public partial class Program;
