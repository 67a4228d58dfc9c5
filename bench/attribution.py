"""bench/run's attribution mode: what each concern of the edge costs a request, from its rows in results.tsv.

Also `--allocation-rate FILE`: the mean allocation rate (bytes/s) in a dotnet-counters CSV, for bench/run's load().
"""
import argparse
import csv
import os
import re
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--allocation-rate")
parser.add_argument("--results")
parser.add_argument("--out")
parser.add_argument("--readme", default=os.path.join(os.path.dirname(__file__), "README.md"))
parser.add_argument("--meta", nargs="*", default=[])
args = parser.parse_args()

if args.allocation_rate:
    # System.Runtime's allocation counter (dotnet.gc.heap.total_allocated on .NET 9+, alloc-rate before): bytes a second.
    rates = []
    try:
        with open(args.allocation_rate, newline="") as f:
            for row in csv.reader(f):
                if len(row) >= 5 and ("total_allocated" in row[2] or "Allocation Rate" in row[2]):
                    try:
                        rates.append(float(row[4]))
                    except ValueError:
                        pass
    except FileNotFoundError:
        pass
    # The first interval starts while the tool attaches: leave it out when there are others.
    rates = rates[1:] if len(rates) > 2 else rates
    print(int(sum(rates) / len(rates)) if rates else 0)
    sys.exit(0)

meta = dict(item.split("=", 1) for item in args.meta)
CONCERNS = [
    ("defaults", "nothing (production defaults: traces at 0.05, success lines at 0.01)"),
    ("everything-recorded", "(the other way) every request traced and logged, as in Development"),
    ("no-traces", "trace recording (sampler at 0)"),
    ("no-log-lines", "request-log lines for successes (ratio 0)"),
    ("no-log-scope", "the request's log scope"),
    ("no-metrics", "metrics"),
    ("no-export", "OTLP export of everything (traces, metrics, logs)"),
    ("no-rate-limits", "the rate limiter"),
    ("no-header-hygiene", "header hygiene (the trust-header scan)"),
    ("no-cors", "the CORS branch"),
    ("no-pipeline", "the whole edge pipeline (authentication, limits, request model and log): a bare forward"),
    ("all-off", "all of the above but the pipeline"),
]

rows = {}
with open(args.results) as f:
    for line in f:
        scenario, target, result = line.rstrip("\n").split("\t")
        fields = {k: int(v) for k, v in (kv.split("=") for kv in result.split()[1:])}
        served = max(fields["requests"], 1)
        rps = fields["requests"] / (fields["duration_us"] / 1e6)
        rows[(scenario, target)] = {
            "rps": rps,
            "cpu_us": fields.get("proxy_cpu_ms", 0) * 1000 / served,
            "alloc": fields["alloc_bytes_per_s"] / rps if fields.get("alloc_bytes_per_s") and rps else None,
            "non2xx": fields["non2xx"],
        }


def cell(scenario, concern):
    row = rows.get((scenario, f"gateway@{concern}"))
    base = rows.get((scenario, "gateway@defaults"))
    if row is None:
        return ["", "", ""]
    saved = "" if base is None or concern == "defaults" else f"{base['cpu_us'] - row['cpu_us']:+.0f}"
    alloc = "" if row["alloc"] is None else f"{row['alloc']:,.0f}"
    flag = f" ({row['non2xx']} non-2xx)" if row["non2xx"] else ""
    return [f"{row['cpu_us']:.0f}{flag}", saved, alloc]


table = [
    "| Turned off | Public read: gateway CPU (us/request) | cost of the concern (us) | allocated (bytes/request) "
    "| JWT read: gateway CPU (us/request) | cost of the concern (us) | allocated (bytes/request) |",
    "|---|---:|---:|---:|---:|---:|---:|",
]
for key, label in CONCERNS:
    if any((s, f"gateway@{key}") in rows for s in ("public", "auth-read")):
        table.append("| " + " | ".join([f"{label} (`{key}`)"] + cell("public", key) + cell("auth-read", key)) + " |")
yarp_public, yarp_jwt = rows.get(("public", "bareyarp")), rows.get(("auth-read", "bareyarp"))
table.append("| bare YARP (the floor; its own process) | " + (f"{yarp_public['cpu_us']:.0f}" if yarp_public else "") + " |  |  | "
             + (f"{yarp_jwt['cpu_us']:.0f}" if yarp_jwt else "") + " |  |  |")

settings = "\n".join(f"- `{k[len('setting:'):]}`: `{v or '(none)'}`" for k, v in sorted(meta.items()) if k.startswith("setting:"))
summary = (f"Attribution run {meta.get('date', '')} at commit {meta.get('commit', '?')}, {meta.get('machine', '')}; "
           f"wrk {meta.get('wrk', '')}. \"Cost of the concern\": the production defaults' CPU a request minus this row's "
           "(positive: turning it off saved that much). Allocations: the runtime's allocation counter over the measured "
           "seconds, divided by the requests.")
with open(args.out, "w") as f:
    f.write("# bench/run attribution\n\n" + summary + "\n\n" + "\n".join(table) + "\n\nSettings of each row:\n\n" + settings + "\n")

readme = open(args.readme).read()
block = ("<!-- attribution:begin (written by bench/attribution.py) -->\n"
         + f"Latest attribution: [{os.path.basename(args.out)}](results/{os.path.basename(args.out)}). " + summary + "\n\n"
         + "\n".join(table) + "\n<!-- attribution:end -->")
readme, count = re.subn(r"<!-- attribution:begin.*?<!-- attribution:end -->", lambda _: block, readme, flags=re.S)
if count == 0:
    readme = readme.rstrip("\n") + "\n\n## Attribution (latest, written by bench/attribution.py)\n\n" + block + "\n"
open(args.readme, "w").write(readme)
