"""Turns one bench/run into bench/results/<date>.md, a PNG chart of the ratios, and the summary in bench/README.md."""
import argparse
import os
import re

parser = argparse.ArgumentParser()
parser.add_argument("--results", required=True)
parser.add_argument("--rss", required=True)
parser.add_argument("--micro", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--chart", required=True)
parser.add_argument("--readme", default=os.path.join(os.path.dirname(__file__), "README.md"))
parser.add_argument("--meta", nargs="*", default=[])
args = parser.parse_args()
meta = dict(item.split("=", 1) for item in args.meta)

SCENARIOS = {
    "public": "1. public read `GET /api/v1/clockchain/stats`",
    "auth-read": "2. authenticated read, JWT `GET /api/v1/timepoints/{id}`",
    "api-key-read": "3. authenticated read, API key (cached verdict)",
    "generate": "4. metered `POST /api/v1/timepoints/generate/sync`, one user",
    "generate-users": "4b. metered, the same load spread over {users} users",
}
TARGETS = {"direct": "direct to the backend", "bareyarp": "bare YARP", "nginx": "nginx", "gateway": "**gateway**"}
# Rows whose references are another scenario's (the API-key read goes to the same backend route as the JWT read).
REFERENCE_SCENARIO = {"api-key-read": "auth-read", "generate-users": "generate"}

rows = []
with open(args.results) as f:
    for line in f:
        scenario, target, result = line.rstrip("\n").split("\t")
        fields = {k: int(v) for k, v in (kv.split("=") for kv in result.split()[1:])}
        fields["rps"] = fields["requests"] / (fields["duration_us"] / 1e6)
        fields["errors"] = fields["connect"] + fields["read"] + fields["write"] + fields["timeout"]
        served = max(fields["requests"], 1)
        fields["proxy_us"] = fields.get("proxy_cpu_ms", 0) * 1000 / served if target != "direct" else None
        fields["backend_us"] = fields.get("backend_cpu_ms", 0) * 1000 / served
        rows.append({"scenario": scenario, "target": target, **fields})
by_key = {(r["scenario"], r["target"]): r for r in rows}


def reference(row, target):
    return by_key.get((REFERENCE_SCENARIO.get(row["scenario"], row["scenario"]), target))


for row in rows:
    yarp, nginx = reference(row, "bareyarp"), reference(row, "nginx")
    row["vs_yarp"] = row["rps"] / yarp["rps"] if yarp else None
    row["vs_nginx"] = row["rps"] / nginx["rps"] if nginx else None
    row["p99_delta_ms"] = (row["p99_us"] - yarp["p99_us"]) / 1000 if yarp else None
    row["cpu_vs_yarp"] = row["proxy_us"] / yarp["proxy_us"] if yarp and row["proxy_us"] and yarp["proxy_us"] else None

rss = [int(x) / 1024 for x in open(args.rss).read().split()]
micro = open(args.micro).read().strip()
cached_p99 = None
for line in micro.splitlines():
    if line.startswith("| cached"):
        cached_p99 = float(line.split("|")[5])


def ms(us):
    return f"{us / 1000:.2f}"


def ratio(value):
    return "" if value is None else f"{value:.2f}x"


table = [
    "| Scenario | Via | Requests/s | p50 (ms) | p99 (ms) | vs bare YARP | vs nginx | p99 minus bare YARP (ms) "
    "| Proxy CPU per request (us) | vs bare YARP | Backend CPU per request (us) | non-2xx / socket errors |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
last = None
for row in rows:
    name = SCENARIOS[row["scenario"]].replace("{users}", meta.get("metered_users", "?")) if row["scenario"] != last else ""
    last = row["scenario"]
    delta = "" if row["p99_delta_ms"] is None or row["target"] == "bareyarp" else f"{row['p99_delta_ms']:+.2f}"
    proxy_cpu = "" if row["proxy_us"] is None else f"{row['proxy_us']:.0f}"
    table.append(
        f"| {name} | {TARGETS[row['target']]} | {row['rps']:,.0f} | {ms(row['p50_us'])} | {ms(row['p99_us'])} | "
        f"{ratio(row['vs_yarp'])} | {ratio(row['vs_nginx'])} | {delta} | "
        f"{proxy_cpu} | {ratio(row['cpu_vs_yarp'])} | "
        f"{row['backend_us']:.0f} | {row['non2xx']} / {row['errors']} |")

successes, cost = int(meta["metered_successes"]), int(meta["cost"])
charged, settled, refunded, created = int(meta["charged"]), int(meta["settled"]), int(meta["refunded"]), int(meta["created"])
open_reservations, balance_mismatches = int(meta["open_reservations"]), int(meta["balance_mismatches"])
# An open reservation is a call whose client went away while the edge was reserving: nothing was forwarded, the credits
# are held, and credits' reconciler refunds them after its reservation timeout (300 s). Held, not lost: not a discrepancy.
discrepancies = ((charged != (settled + open_reservations) * cost) + balance_mismatches
                 + (settled > created) + (successes > settled))


def target_row(what, measured, goal, met):
    return f"| {what} | {measured} | {goal} | {'' if met is None else 'met' if met else '**missed**'} |"


def g(scenario):
    return by_key.get((scenario, "gateway"))


pub, jwt, key, gen, gen_users = g("public"), g("auth-read"), g("api-key-read"), g("generate"), g("generate-users")
targets = ["| Target | Measured | Goal | |", "|---|---:|---:|---|"]
if pub:
    targets += [
        target_row("public read via the gateway, requests/s vs bare YARP", ratio(pub["vs_yarp"]), ">= 0.95x", pub["vs_yarp"] >= 0.95),
        target_row("public read via the gateway, p99 vs bare YARP", f"{pub['p99_delta_ms']:+.2f} ms", "<= +1 ms", pub["p99_delta_ms"] <= 1),
        target_row("public read via the gateway vs nginx", ratio(pub["vs_nginx"]), ">= 1.0x", pub["vs_nginx"] >= 1.0),
    ]
if jwt:
    targets.append(target_row("JWT read vs bare YARP (same backend route)", ratio(jwt["vs_yarp"]), ">= 0.85x", jwt["vs_yarp"] >= 0.85))
if key:
    targets.append(target_row("API-key read vs bare YARP (same backend route)", ratio(key["vs_yarp"]), ">= 0.85x", key["vs_yarp"] >= 0.85))
if gen:
    targets += [
        target_row("metered generate, one user, vs bare YARP (same backend route)", ratio(gen["vs_yarp"]), ">= 0.30x",
                   gen["vs_yarp"] >= 0.30),
        *([target_row(f"metered generate over {meta['metered_users']} users vs bare YARP (diagnostic, not a target)",
                      ratio(gen_users["vs_yarp"]), "", None)] if gen_users else []),
        target_row("ledger discrepancies", str(discrepancies), "0", discrepancies == 0),
    ]
targets += [
    target_row("cached API-key verification, p99", f"{cached_p99:.1f} us", "< 50 us", cached_p99 < 50),
    target_row("gateway RSS under load (max of samples every 0.5 s)", f"{max(rss):.0f} MB", "< 200 MB", max(rss) < 200),
]
public_yarp = by_key.get(("public", "bareyarp"))
context = [] if not (public_yarp and jwt and key and gen) else [
    f"For context, against the bare YARP **public** read ({public_yarp['rps']:,.0f} requests/s, a backend answer from memory): "
    f"JWT read {jwt['rps'] / public_yarp['rps']:.2f}x, API-key read {key['rps'] / public_yarp['rps']:.2f}x, "
    f"metered generate {gen['rps'] / public_yarp['rps']:.2f}x. Rows 2-4 reach flash, which reads or writes PostgreSQL on "
    "every request, so their ratios above are against the references on the same backend route.",
]

ledger = [
    "| 2xx seen by wrk | Timepoints flash created | Reservations settled | refunded | still held | Debited (net of refunds) | (settled + held) x cost | Users whose balance != ledger sum |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
    f"| {successes:,} | {created:,} | {settled:,} | {refunded:,} | {open_reservations} | {charged:,} | "
    f"{(settled + open_reservations) * cost:,} | {balance_mismatches} |",
    "",
    "All metered users of the run, warm-ups included. A discrepancy is any of: debited != (settled + held) x cost, a balance "
    "that is not its ledger's sum, a charge without a timepoint behind it (settled > created), or a 2xx the client saw that "
    "was not charged (2xx seen > settled). wrk stops with requests in flight: those the backend completed are charged but "
    "never counted by wrk (2xx seen < settled); those cut off before the backend answered are refunded (created may exceed "
    "settled by those flash finished after the edge gave up). \"Still held\" are reservations open when the check ran, "
    "after it waited for none to be open: the edge refunds a reservation at once when its client went away while it was "
    "reserving, so any left are for credits' reconciler (reservation timeout, 300 s); they are reported, not counted as "
    "discrepancies.",
    f"Discrepancies: **{discrepancies}**.",
]

# --- chart --------------------------------------------------------------------------------------------------------
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

shown = [r for r in rows if r["target"] != "bareyarp"]
labels = [f"{r['scenario']}\n{r['target']}" for r in shown]
xs = range(len(shown))
fig, ax = plt.subplots(figsize=(12, 5), dpi=100)
width = 0.38
ax.bar([x - width / 2 for x in xs], [r["vs_yarp"] or 0 for r in shown], width, label="requests/s vs bare YARP", color="#3b6ea5")
ax.bar([x + width / 2 for x in xs], [r["vs_nginx"] or 0 for r in shown], width, label="requests/s vs nginx", color="#e0a030")
for x, r in zip(xs, shown):
    ax.text(x - width / 2, (r["vs_yarp"] or 0) + 0.02, f"{r['vs_yarp']:.2f}", ha="center", fontsize=8)
for level, text in [(1.0, "1.0x"), (0.95, "0.95x public target"), (0.85, "0.85x auth target"), (0.30, "0.30x metered target")]:
    ax.axhline(level, color="#888", linestyle="--" if level < 1 else "-", linewidth=0.8)
    ax.text(len(shown) - 0.5, level + 0.01, text, ha="right", fontsize=7, color="#555")
ax.set_ylim(0, max([r["vs_yarp"] or 0 for r in shown] + [r["vs_nginx"] or 0 for r in shown] + [1.0]) * 1.1)
ax.set_xticks(list(xs))
ax.set_xticklabels(labels, fontsize=8)
ax.set_ylabel("ratio (same run, same backend route)")
ax.set_title(f"Timepoint edge vs bare YARP and nginx - {meta['date']}")
ax.legend(loc="upper left", fontsize=8)
fig.tight_layout()
fig.savefig(args.chart)

# --- report -------------------------------------------------------------------------------------------------------
chart_name = os.path.basename(args.chart)
report = "\n".join([
    f"# Edge benchmark, {meta['date']}",
    "",
    f"Commit {meta['commit']}; {meta['machine']}; {meta['wrk']}.",
    "Every ratio compares rows measured in this run. Produced by `bench/run`.",
    "",
    "## Throughput and latency",
    "",
    *table,
    "",
    *context,
    "",
    f"![ratios]({chart_name})",
    "",
    "## Targets",
    "",
    *targets,
    "",
    "## Ledger check (metered users)",
    "",
    *ledger,
    "",
    "## API-key verification at the edge (`ApiKeyVerifier.VerifyAsync`, microseconds)",
    "",
    micro,
    "",
    "## Memory and start-up",
    "",
    f"- Gateway resident memory during its load runs: max {max(rss):.0f} MB, median {sorted(rss)[len(rss) // 2]:.0f} MB "
    f"({len(rss)} samples).",
    f"- Direct start (no orchestrator): PostgreSQL (initdb included), Redis and all six services healthy "
    f"{meta['startup_seconds']} s after the first process was launched; {meta['command_to_healthy_seconds']} s from the "
    f"command (Release build: {meta['build_seconds']}).",
    (f"- AppHost start (`./scripts/run`, as a developer's F5, build included, fresh data folder): the gateway answered "
     f"`healthy` (PostgreSQL, Redis and every service healthy before it) after {meta['apphost_seconds']} s."
     if meta.get("apphost_seconds", "").replace(".", "", 1).isdigit()
     else f"- AppHost start (`./scripts/run`): {meta.get('apphost_seconds', 'skipped')}."),
    "",
])
with open(args.out, "w") as f:
    f.write(report)

# --- README summary between markers -----------------------------------------------------------------------------------
if os.path.exists(args.readme):
    readme = open(args.readme).read()
    rel = os.path.relpath(args.out, os.path.dirname(args.readme))
    summary = "\n".join([
        "<!-- results:begin (written by bench/report.py) -->",
        f"Latest run: [{os.path.basename(args.out)}]({rel}), {meta['date']}, {meta['machine']}.",
        "",
        *table,
        "",
        *targets,
        "",
        f"![ratios]({os.path.relpath(args.chart, os.path.dirname(args.readme))})",
        "<!-- results:end -->",
    ])
    readme = re.sub(r"<!-- results:begin.*?<!-- results:end -->", lambda _: summary, readme, flags=re.S)
    with open(args.readme, "w") as f:
        f.write(readme)
