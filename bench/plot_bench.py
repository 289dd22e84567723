#!/usr/bin/python3
"""Renders benchmark results to PNG figures (Debian's python3-matplotlib).

  bench/plot_bench.py --network network.json [--compare compare.jsonl] [--out bench/figures]

--network: Google Benchmark JSON from network_bench (--benchmark_out=F --benchmark_out_format=json; with
  --benchmark_repetitions the medians are used). Gives
    throughput_vs_batch.png   images/s against batch size, one line per strategy, a panel per thread count
    speedup_vs_threads.png    speed-up over the sequential run on 1 thread, per strategy, a panel per batch
--compare: the JSON lines of bench/compare_pytorch.py --json. Gives
    compare_pytorch.png       parcnn against PyTorch (best configuration and as installed), per case
"""
import argparse
import collections
import json
import os
import sys

import bench_json


def machine_text(context):
    cpus = context.get("num_cpus", "?")
    mhz = context.get("mhz_per_cpu", "?")
    return f"{cpus} CPUs, {mhz} MHz (as Google Benchmark reports them)"


def plot_network(path, out_dir, plt):
    bench, context = bench_json.load(path, "images")
    models = sorted({k[0] for k in bench})
    model = "letter_cnn" if "letter_cnn" in models else models[0]  # not letter_cnn_unfused
    batches = sorted({k[1] for k in bench})
    threads = sorted({k[2] for k in bench})
    strategies = list(dict.fromkeys(k[3] for k in bench))
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color = {s: palette[i % len(palette)] for i, s in enumerate(strategies)}  # one colour per strategy

    fig, axes = plt.subplots(1, len(threads), figsize=(6 * len(threads), 4.5), sharey=True, squeeze=False)
    for ax, t in zip(axes[0], threads):
        for s in strategies:
            xs = [b for b in batches if (model, b, t, s) in bench]
            if xs:
                ax.plot(xs, [bench[(model, b, t, s)] for b in xs], marker="o", label=s, color=color[s])
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_xlabel("batch size")
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("images / s (forward)")
    fig.suptitle(f"{model} forward throughput per strategy — {machine_text(context)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "throughput_vs_batch.png"), dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(batches), figsize=(3.6 * len(batches), 4), sharey=True, squeeze=False)
    for ax, b in zip(axes[0], batches):
        base = bench.get((model, b, 1, "serial"))
        if not base:
            continue
        for s in strategies:
            xs = [t for t in threads if (model, b, t, s) in bench]
            if s != "serial" and xs:
                ax.plot(xs, [bench[(model, b, t, s)] / base for t in xs], marker="o", label=s, color=color[s])
        ax.plot(threads, threads, color="grey", linestyle=":", label="ideal")
        ax.set_xticks(threads)
        ax.set_xlabel("threads")
        ax.set_title(f"batch {b}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("speed-up over sequential, 1 thread")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"{model} forward speed-up — {machine_text(context)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "speedup_vs_threads.png"), dpi=110)
    plt.close(fig)


def plot_compare(path, out_dir, plt):
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip().startswith("{")]
    labels = [f"{r['kind']}\nb{r['batch']} t{r['threads']}" for r in rows]
    series = collections.OrderedDict([
        ("parcnn (best strategy)", [r["parcnn_images_per_second"] for r in rows]),
        ("parcnn auto", [r.get("parcnn_auto_images_per_second") or 0 for r in rows]),
        ("PyTorch best configuration", [r["pytorch_images_per_second"] for r in rows]),
        ("PyTorch as installed", [r["pytorch_as_installed_images_per_second"] for r in rows]),
    ])
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(rows)), 4.5))
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + (i - (len(series) - 1) / 2) * width for x in range(len(rows))], values, width, label=name)
    for x, r in enumerate(rows):
        if r.get("ratio") is None:  # PyTorch on the reference BLAS: no ratio (see compare_pytorch.py)
            continue
        ax.annotate(f"{r['ratio']:.1f}x", (x, r["parcnn_images_per_second"]), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(rows)), labels, fontsize=8)
    ax.set_ylabel("images / s")
    blas = rows[0].get("pytorch_blas", "BLAS not recorded") if rows else ""
    ax.set_title(f"letter CNN: parcnn against PyTorch on {blas}, same weights and inputs "
                 "(labels: parcnn / PyTorch best)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "compare_pytorch.png"), dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--network", help="network_bench JSON")
    p.add_argument("--compare", help="compare_pytorch.py --json output")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = p.parse_args()
    if not args.network and not args.compare:
        p.error("give --network, --compare or both")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_bench: needs matplotlib (Debian package python3-matplotlib)")
    os.makedirs(args.out, exist_ok=True)
    if args.network:
        plot_network(args.network, args.out, plt)
    if args.compare:
        plot_compare(args.compare, args.out, plt)
    print(f"figures written to {args.out}")


if __name__ == "__main__":
    main()
