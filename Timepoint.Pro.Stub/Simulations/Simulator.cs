using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Timepoint.Pro.Stub.Simulations;

/// <summary>
/// The stub's simulation engine: the result depends only on (template, mode, fidelity, prompt), so the same request
/// always gives the same result. Higher fidelity gives more entities and more steps.
/// </summary>
public static partial class Simulator
{
    private static readonly string[] Names =
        ["Avery Chen", "Marcus Okafor", "Priya Raman", "Sofia Lindqvist", "Daniel Mensah", "Elena Petrova", "Hiro Tanaka", "Grace Whitfield"];
    private static readonly string[] Stances = ["supportive", "skeptical", "opposed", "undecided", "pragmatic", "alarmed"];
    private static readonly string[] Events =
    [
        "raises an objection", "proposes a compromise", "presents new evidence", "forms an alliance", "calls for a vote",
        "reveals a hidden constraint", "withdraws support", "reframes the question",
    ];
    private static readonly Dictionary<string, string[]> Roles = new()
    {
        ["board_meeting"] = ["chair", "chief executive", "independent director", "investor representative", "general counsel"],
        ["crisis_response"] = ["incident commander", "communications lead", "operations chief", "liaison officer", "analyst"],
        ["historical_dialogue"] = ["statesman", "general", "envoy", "chronicler", "advisor"],
        ["market_launch"] = ["product lead", "marketing director", "early customer", "competitor", "analyst"],
        ["negotiation"] = ["lead negotiator", "mediator", "counterparty", "legal advisor", "observer"],
    };

    public static SimulationResult Run(SimulationInput input)
    {
        var seed = SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{input.Template}\n{input.Mode}\n{input.Fidelity}\n{Whitespace().Replace(input.Prompt.ToLowerInvariant(), " ")}"));
        var position = 0;
        int Next(int max) => seed[position++ % seed.Length] % max;

        var firstName = Next(Names.Length);
        var entities = Enumerable.Range(0, 2 + input.Fidelity).Select(i => new SimulatedEntity(
            Names[(firstName + i) % Names.Length], // at most 7 participants: names never repeat
            Roles[input.Template][Next(Roles[input.Template].Length)],
            Stances[Next(Stances.Length)])).ToList();
        var timeline = Enumerable.Range(1, 3 * input.Fidelity).Select(step => new TimelineStep(
            step,
            input.Mode == "branching" && step > input.Fidelity ? $"branch-{(char)('a' + Next(3))}" : "main",
            $"{entities[Next(entities.Count)].Name} {Events[Next(Events.Length)]}")).ToList();
        var metrics = new SimulationMetrics(
            Coherence: Math.Round(0.5 + Next(50) / 100.0, 2),
            Tension: Math.Round(Next(100) / 100.0, 2),
            Consensus: Math.Round(Next(100) / 100.0, 2));
        var summary = $"A {input.Mode} {input.Template.Replace('_', ' ')} simulation at fidelity {input.Fidelity}: " +
            $"{entities.Count} participants over {timeline.Count} steps; consensus {metrics.Consensus:0.00}.";
        return new SimulationResult(summary, entities, timeline, metrics, 400 * input.Fidelity + input.Prompt.Length);
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
