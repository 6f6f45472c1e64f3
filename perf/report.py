#!/usr/bin/python3
"""Table of dpx against Linux from benchmark JSON lines.

Usage: perf/report.py [--markdown] [RESULTS.jsonl ...]   (stdin if no file)

Each line is one object such as
  {"bench":"proxied_cps","impl":"dpx","value":312000,"unit":"conn/s","cores":1,...};
lines that are not JSON objects with "bench" and "impl" are ignored. Rows are
keyed by bench and its parameters ("sessions", "variant"); when a key repeats,
the later line wins. When dpx and Linux ran a bench at different session
counts (Linux is capped by the fd limit), an extra row compares the largest
run of each. Targets are the issue's; a per-core target is checked against
value / cores.
"""
import argparse
import json
import signal
import sys
from dataclasses import dataclass
from typing import Callable, Optional

PARAM_KEYS = ("sessions", "variant", "flood", "flood_pps")


@dataclass
class Bench:
    title: str
    lower_is_better: bool = False
    target: str = ""
    # met(dpx_row, linux_row_or_None) -> True/False, or None where the target
    # does not apply to that row; met itself is None when there is no target
    met: Optional[Callable[[dict, Optional[dict]], Optional[bool]]] = None
    extra: tuple = ()  # fields shown next to the value, e.g. latency


def per_core(row):
    return row["value"] / max(1, row.get("cores", 1))


def _cps_met(d, lin):
    return per_core(d) >= 300_000 and (lin is None or d["value"] >= 10 * lin["value"])


def _memory_met(d, _):
    return d["value"] <= 1024 if d.get("sessions", 0) >= 10_000_000 else None


def _close_met(d, _):
    return d["value"] > 5_000_000 and d.get("max_gap_us", float("inf")) <= 100


BENCHES = {
    "proxied_cps": Bench("connections/s through the proxy",
                         target="300,000 conn/s per proxy core and >=10x Linux",
                         met=_cps_met, extra=("p99_us",)),
    "proxied_cps_vs_sessions": Bench("connections/s with idle sessions held", extra=("p99_us",)),
    "proxied_rps": Bench("keep-alive requests/s through the proxy",
                         target="1,500,000 req/s per core",
                         met=lambda d, _: per_core(d) >= 1_500_000, extra=("p99_us",)),
    "idle_session_memory": Bench("memory per idle proxied session", lower_is_better=True,
                                 target="<=1024 B/session at 10,000,000 sessions",
                                 met=_memory_met),
    "mass_close": Bench("closes/s when the owner dies",
                        target=">5,000,000 closes/s, max gap <=100 us",
                        met=_close_met, extra=("max_gap_us",)),
    "tw_bytes": Bench("bytes per TIME_WAIT socket", lower_is_better=True,
                      target="<=64 B", met=lambda d, _: d["value"] <= 64),
    "tw_churn": Bench("TIME_WAIT churn"),
    "proxied_bulk": Bench("bulk throughput through the proxy"),
}


def load_results(paths):
    """{(bench, params): {impl: row}} from JSON lines, later lines winning."""
    table = {}
    streams = [open(p) for p in paths] if paths else [sys.stdin]
    for stream in streams:
        for line in stream:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(row, dict) or "bench" not in row or "impl" not in row:
                continue
            if not isinstance(row.get("value"), (int, float)):
                continue
            params = tuple((k, row[k]) for k in PARAM_KEYS if k in row)
            table.setdefault((row["bench"], params), {})[row["impl"]] = row
    return table


def improvement(bench, dpx, linux):
    """How many times better dpx is than Linux (>1 = dpx better), or None."""
    if not dpx or not linux or not dpx["value"] or not linux["value"]:
        return None
    lower = BENCHES.get(bench, Bench(bench)).lower_is_better
    return linux["value"] / dpx["value"] if lower else dpx["value"] / linux["value"]


def headline_pair(table, bench):
    """(dpx_row, linux_row) to compare for bench, ignoring "variant" rows: the
    most sessions both ran, else the most sessions each ran."""
    keyed = [(dict(p).get("sessions", 0), impls) for (b, p), impls in table.items()
             if b == bench and "variant" not in dict(p)]
    both = [t for t in keyed if "dpx" in t[1] and "linux" in t[1]]
    if both:
        impls = max(both, key=lambda t: t[0])[1]
        return impls["dpx"], impls["linux"]

    def largest(impl):
        runs = [t for t in keyed if impl in t[1]]
        return max(runs, key=lambda t: t[0])[1][impl] if runs else None

    return largest("dpx"), largest("linux")


def sort_key(item):
    (bench, params), _ = item
    order = list(BENCHES).index(bench) if bench in BENCHES else len(BENCHES)
    return order, bench, [(k, str(v).zfill(12)) for k, v in params]


def fmt_num(v):
    if v >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.3g}" if v < 10 else f"{v:.1f}"


def fmt_cell(row, extra):
    if row is None:
        return "-"
    text = f"{fmt_num(row['value'])} {row.get('unit', '')}".strip()
    if row.get("cores", 1) != 1:
        text += f" ({row['cores']} cores)"
    notes = [f"{k[:-3] if k.endswith('_us') else k} {fmt_num(row[k])}"
             + (" us" if k.endswith("_us") else "") for k in extra if k in row]
    return text + (f" [{', '.join(notes)}]" if notes else "")


def fmt_ratio(bench, dpx, linux):
    r = improvement(bench, dpx, linux)
    if r is None:
        return "-"
    if BENCHES.get(bench, Bench(bench)).lower_is_better:
        return f"{r:.2f}x smaller"
    return f"{r:.2f}x"


def status(info, dpx, linux):
    met = info.met(dpx, linux) if info.met and dpx else None
    return "" if met is None else "met" if met else "not met"


def fmt_params(params):
    return ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in params)


def row(bench, params_text, dpx, linux):
    info = BENCHES.get(bench, Bench(bench))
    return [bench, params_text, fmt_cell(dpx, info.extra), fmt_cell(linux, info.extra),
            fmt_ratio(bench, dpx, linux), info.target if dpx else "", status(info, dpx, linux)]


def rows(table):
    out = []
    items = sorted(table.items(), key=sort_key)
    for i, ((bench, params), impls) in enumerate(items):
        out.append(row(bench, fmt_params(params), impls.get("dpx"), impls.get("linux")))
        last_of_bench = i + 1 == len(items) or items[i + 1][0][0] != bench
        if last_of_bench and "sessions" in dict(params):
            dpx, linux = headline_pair(table, bench)
            if dpx and linux and dpx.get("sessions") != linux.get("sessions"):
                text = f"largest each: dpx {dpx['sessions']:,}, linux {linux['sessions']:,}"
                out.append(row(bench, text, dpx, linux))
    return out


HEADER = ["bench", "params", "dpx", "linux", "dpx vs linux", "target", "status"]


def print_text(table_rows):
    widths = [max(len(r[i]) for r in [HEADER] + table_rows) for i in range(len(HEADER))]
    for r in [HEADER, ["-" * w for w in widths]] + table_rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def print_markdown(table_rows):
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for r in table_rows:
        print("| " + " | ".join(c.replace("|", "\\|") or " " for c in r) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", help="JSON-lines results (default: stdin)")
    ap.add_argument("--markdown", action="store_true", help="GitHub markdown table")
    args = ap.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under | head
    table = load_results(args.files)
    if not table:
        sys.exit("report: no benchmark results found")
    (print_markdown if args.markdown else print_text)(rows(table))
    if not args.markdown:
        print("\nratio: dpx/linux, higher is better; for bytes, lower is better and the"
              " ratio is linux/dpx (\"x smaller\").")


if __name__ == "__main__":
    main()
