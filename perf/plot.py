#!/usr/bin/python3
"""PNG plots of dpx against Linux from benchmark JSON lines.

Usage: perf/plot.py RESULTS.jsonl OUTDIR

Writes OUTDIR/cps_vs_sessions.png, memory_vs_sessions.png and summary.png.
A series without data is left out (with a note on stderr and in the plot).
"""
import os
import sys

import matplotlib

sys.dont_write_bytecode = True  # no __pycache__ beside report.py
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from report import BENCHES, headline_pair, improvement, load_results  # noqa: E402

IMPLS = {"dpx": dict(color="tab:blue", marker="o"), "linux": dict(color="tab:orange", marker="s")}
HEADLINES = ["proxied_cps", "proxied_rps", "idle_session_memory", "mass_close",
             "tw_bytes", "tw_churn", "proxied_bulk"]

human = FuncFormatter(lambda v, _: f"{v / 1e9:g}G" if v >= 1e9 else f"{v / 1e6:g}M" if v >= 1e6
                      else f"{v / 1e3:g}k" if v >= 1e3 else f"{v:g}")


def log_y(ax):
    """Log y axis labelled at 1, 2 and 5 of each decade, at least a decade
    and a half tall so that small differences do not look steep."""
    lo, hi = ax.dataLim.intervaly
    if 0 < lo and hi / lo < 30:
        ax.set_ylim(lo / 3, hi * 3)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.yaxis.set_major_formatter(human)
    ax.yaxis.set_minor_formatter(NullFormatter())


_noted = set()


def note(msg):
    if msg not in _noted:
        _noted.add(msg)
        print(f"plot: {msg}", file=sys.stderr)


def series(table, bench, impl, y=lambda r: r["value"]):
    """Sorted [(sessions, y)] of one bench and impl (rows without "variant")."""
    pts = [(dict(params)["sessions"], y(impls[impl]))
           for (b, params), impls in table.items()
           if b == bench and impl in impls and "sessions" in dict(params)
           and "variant" not in dict(params)]
    return sorted(pts)


def plot_lines(ax, table, bench, y=lambda r: r["value"]):
    """One line per impl on ax; returns the impls that had no data."""
    missing = []
    for impl, style in IMPLS.items():
        pts = series(table, bench, impl, y)
        if not pts:
            missing.append(impl)
            continue
        xs, ys = zip(*pts)
        ax.plot(xs, ys, label=impl, **style)
    if missing:
        note(f"{bench}: no {' / '.join(missing)} data, skipped")
        ax.text(0.02, 0.02, f"no data: {', '.join(missing)}", transform=ax.transAxes,
                fontsize=8, color="gray")
    return missing


def log_sessions_axis(ax, table, bench):
    """Log x axis; symlog when a point sits at 0 sessions."""
    xs = [x for impl in IMPLS for x, _ in series(table, bench, impl)]
    if any(x <= 0 for x in xs):
        nonzero = [x for x in xs if x > 0]
        ax.set_xscale("symlog", linthresh=min(nonzero) if nonzero else 1)
    elif xs:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(human)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("concurrent idle sessions")
    ax.grid(True, which="both", alpha=0.3)


def finish(fig, ax_list, path):
    for ax in ax_list:
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(path)


def plot_cps(table, outdir):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_lines(ax, table, "proxied_cps_vs_sessions")
    log_sessions_axis(ax, table, "proxied_cps_vs_sessions")
    log_y(ax)
    ax.set_ylabel("connections/s (one request each)")
    ax.set_title("Proxied connections/s while idle sessions are held")
    finish(fig, [ax], os.path.join(outdir, "cps_vs_sessions.png"))


def total_bytes(row):
    return row.get("total_bytes", row["value"] * row.get("sessions", 0))


def plot_memory(table, outdir):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    plot_lines(left, table, "idle_session_memory", total_bytes)
    left.set_ylabel("total memory (bytes)")
    left.set_title("Memory of all idle sessions")
    plot_lines(right, table, "idle_session_memory")
    right.set_ylabel("bytes per session")
    right.set_title("Memory per idle session")
    right.axhline(1024, color="gray", linestyle="--", linewidth=1)
    right.text(0.98, 1024, "target 1024 B", color="gray", fontsize=8, ha="right", va="bottom",
               transform=right.get_yaxis_transform())
    for ax in (left, right):
        log_sessions_axis(ax, table, "idle_session_memory")
        log_y(ax)
    finish(fig, [left, right], os.path.join(outdir, "memory_vs_sessions.png"))


def headline_ratios(table):
    """[(label, ratio)] of the benches where both dpx and linux ran."""
    out = []
    for bench in HEADLINES:
        dpx, linux = headline_pair(table, bench)
        r = improvement(bench, dpx, linux)
        if r is None:
            note(f"summary: {bench} lacks dpx or linux, skipped")
            continue
        label = bench
        if "sessions" in dpx:
            label += f"\n{dpx['sessions']:,} vs {linux['sessions']:,}\nsessions"
        if BENCHES[bench].lower_is_better:
            label += "\n(linux/dpx)"
        out.append((label, r))
    return out


def plot_summary(table, outdir):
    ratios = headline_ratios(table)
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(ratios) + 2), 4.5))
    if ratios:
        labels, values = zip(*ratios)
        bars = ax.bar(range(len(values)), values,
                      color=["tab:green" if v >= 1 else "tab:red" for v in values])
        ax.set_xticks(range(len(values)), labels, fontsize=8)
        ax.bar_label(bars, labels=[f"{v:.2g}x" if v < 10 else f"{v:,.0f}x" for v in values], fontsize=8)
        ax.set_yscale("log")
        ax.axhline(1, color="black", linewidth=0.8)
        ax.axhline(10, color="gray", linestyle="--", linewidth=1)
        ax.text(-0.55, 10, "10x", color="gray", fontsize=8, ha="left", va="bottom")
    else:
        ax.text(0.5, 0.5, "no bench has both dpx and linux results", ha="center",
                transform=ax.transAxes)
    ax.set_ylabel("dpx advantage (x, higher is better)")
    ax.set_title("dpx vs Linux (HAProxy), headline ratios")
    finish(fig, [], os.path.join(outdir, "summary.png"))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    table = load_results([sys.argv[1]])
    if not table:
        sys.exit("plot: no benchmark results found")
    os.makedirs(sys.argv[2], exist_ok=True)
    plot_cps(table, sys.argv[2])
    plot_memory(table, sys.argv[2])
    plot_summary(table, sys.argv[2])


if __name__ == "__main__":
    main()
