var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddNpgsqlDataSource("identitydb");
builder.AddRedisClient("redis");

var app = builder.Build();

app.MapDefaultEndpoints(HealthEndpoints.ServiceBody("timepoint-identity"));

app.Run();

public partial class Program;
