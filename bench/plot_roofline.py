#!/usr/bin/python3
"""Renders hardware_report's JSON as a roofline (PNG, Debian's python3-matplotlib).

  build/examples/hardware_report --json roofline.json
  bench/plot_roofline.py roofline.json [--out bench/figures/roofline.png]

Axes: arithmetic intensity (FLOP per byte of inputs, parameters and outputs) against GFLOP/s, both
logarithmic. The roofs: the multiply-add peak of the workers (flat) and one slope per working set the
triad measured (bandwidth x intensity). Each stage of the model's plan is a point at its intensity and
the GFLOP/s it reached, joined by a dotted line to its bound (the roof at its working set); stages
without arithmetic (flatten) are left out.
"""
import argparse
import json
import os
import sys


def size_text(b):
    return f"{b / 2**20:.0f} MiB" if b >= 2**20 else f"{b / 2**10:.0f} KiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", help="JSON written by hardware_report --json")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures", "roofline.png"))
    args = parser.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_roofline: matplotlib is missing (bash cmake/install-deps.sh --bench installs python3-matplotlib)")
    with open(args.report) as f:
        report = json.load(f)
    machine, stages = report["machine"], [s for s in report["stages"] if s["flops"] > 0]
    peak = machine["peak_gflops"]
    xs = [s["intensity"] for s in stages]
    lo, hi = min(xs + [0.1]) / 2, max(xs + [100]) * 6  # room for the labels right of the points

    fig, ax = plt.subplots(figsize=(8, 5.5))
    cmap = plt.get_cmap("viridis")
    rungs = machine["bandwidth"]
    for i, r in enumerate(rungs):
        bw = r["gbytes_per_s"]
        knee = peak / bw
        xs_line = [lo, min(knee, hi)]
        ax.plot(xs_line, [lo * bw, min(knee, hi) * bw], color=cmap(i / max(len(rungs) - 1, 1)), lw=1.2,
                label=f"{bw:.0f} GB/s at {size_text(r['bytes'])}")
    ax.axhline(peak, color="black", lw=1.5, label=f"peak {peak:.0f} GFLOP/s ({machine['workers']} workers)")
    for s in stages:
        ax.plot([s["intensity"]] * 2, [s["achieved_gflops"], s["bound_gflops"]], ls=":", color="gray", lw=1)
        ax.plot(s["intensity"], s["achieved_gflops"], "o", color="tab:red")
        ax.annotate(s["stage"], (s["intensity"], s["achieved_gflops"]), textcoords="offset points", xytext=(5, -10),
                    fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(min([s["achieved_gflops"] for s in stages] + [1]) / 2, peak * 2)
    ax.set_xlabel("arithmetic intensity (FLOP / byte)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"{report['model']} forward, batch {report['batch']}: each stage against the roofline "
                 f"({machine['isa']}, {machine['workers']} workers)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"plot_roofline: wrote {args.out}")


if __name__ == "__main__":
    main()
