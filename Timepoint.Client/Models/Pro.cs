namespace Timepoint.Client;

/// <summary>
/// A Pro Cloud simulation (15 credits): a template (board_meeting, crisis_response, historical_dialogue, market_launch,
/// negotiation), a prompt, a mode (pearl by default) and a fidelity from 1 to 5 (3 by default).
/// </summary>
public sealed record SimulateRequest(string Template, string Prompt, string? Mode = null, int? Fidelity = null);

public sealed record Simulation(
    Guid JobId,
    string Status,
    string Template,
    string Mode,
    int Fidelity,
    string Prompt,
    DateTimeOffset CreatedAt,
    SimulationResult Result);

public sealed record SimulationResult(
    string Summary,
    IReadOnlyList<SimulatedEntity> Entities,
    IReadOnlyList<TimelineStep> Timeline,
    SimulationMetrics Metrics,
    int TokensUsed);

public sealed record SimulatedEntity(string Name, string Role, string Stance);

public sealed record TimelineStep(int Step, string Branch, string Event);

public sealed record SimulationMetrics(double Coherence, double Tension, double Consensus);
