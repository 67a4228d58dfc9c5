using System.Text.Json;

namespace Timepoint.Pro.Stub.Simulations;

/// <summary><c>POST /api/v1/simulate</c> body. <c>mode</c> defaults to pearl and <c>fidelity</c> to 3.</summary>
public sealed record SimulateRequest(string? Template, string? Prompt, string? Mode = null, JsonElement? Fidelity = null)
{
    public const int MaxPromptLength = 4000;
    public const string DefaultMode = "pearl";
    public const int DefaultFidelity = 3;

    /// <summary>The scenarios the stub can run.</summary>
    public static readonly string[] Templates = ["board_meeting", "crisis_response", "historical_dialogue", "market_launch", "negotiation"];

    /// <summary>How simulated time flows: one line (pearl), steered (directorial), forking (branching), looping (cyclical), working back from an end state (portal).</summary>
    public static readonly string[] Modes = ["pearl", "directorial", "branching", "cyclical", "portal"];

    public (SimulationInput? Input, Dictionary<string, string[]> Errors) Validate()
    {
        var errors = new Dictionary<string, string[]>();
        var template = Template?.Trim().ToLowerInvariant() ?? "";
        if (!Templates.Contains(template))
        {
            errors["template"] = [$"template must be one of: {string.Join(", ", Templates)}."];
        }

        var prompt = Prompt?.Trim() ?? "";
        if (prompt.Length is 0 or > MaxPromptLength)
        {
            errors["prompt"] = [$"prompt must be 1 to {MaxPromptLength} characters."];
        }

        var mode = Mode?.Trim().ToLowerInvariant() ?? DefaultMode;
        if (!Modes.Contains(mode))
        {
            errors["mode"] = [$"mode must be one of: {string.Join(", ", Modes)}."];
        }

        var fidelity = DefaultFidelity;
        if (Fidelity is { ValueKind: not JsonValueKind.Null } value &&
            !(value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out fidelity) && fidelity is >= 1 and <= 5))
        {
            errors["fidelity"] = ["fidelity must be an integer from 1 to 5."];
        }

        return errors.Count > 0 ? (null, errors) : (new SimulationInput(template, prompt, mode, fidelity), errors);
    }
}

public sealed record SimulationInput(string Template, string Prompt, string Mode, int Fidelity);

/// <summary>A finished simulation job. The stub runs jobs to completion before answering.</summary>
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
