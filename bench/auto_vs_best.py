#!/usr/bin/python3
"""How close auto and tuned come to the best fixed strategy, per benchmarked shape.

  bench/auto_vs_best.py layers.json [network.json ...] [--threshold 1.05] [--markdown]

Reads Google Benchmark JSON from layers_bench / network_bench (--benchmark_out=F
--benchmark_out_format=json). For every layer × batch × threads with more than one thread it prints the
fastest fixed strategy (sequential on 1 thread counts too) and auto's and tuned's time as a ratio to it,
then how many shapes are within the threshold. Times are real time per call (medians when the file
holds repetitions).
"""
import argparse

import bench_json

FIXED = ("sequential", "batch", "channel", "spatial", "tiled")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+")
    p.add_argument("--threshold", type=float, default=1.05)
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()
    times = {}
    for f in args.files:
        times.update(bench_json.load(f, "real_time")[0])
    shapes = sorted({(k[0], k[1], k[2]) for k in times if k[2] > 1}, key=lambda s: (s[0].startswith("real/"), s))
    rows, within = [], {"auto": 0, "tuned": 0}
    for layer, batch, threads in shapes:
        fixed = {s: t for (l, b, th, s), t in times.items()
                 if l == layer and b == batch and (th == threads or (th == 1 and s == "sequential"))
                 and s.split(":")[0] in FIXED}
        if not fixed:
            continue
        best = min(fixed, key=fixed.get)
        row = [layer, batch, threads, best, fixed[best]]
        for s in ("auto", "tuned"):
            t = times.get((layer, batch, threads, s))
            ratio = t / fixed[best] if t else float("nan")
            within[s] += ratio <= args.threshold
            row.append(ratio)
        rows.append(row)
    if args.markdown:
        print("| layer | batch | threads | best fixed | µs | auto / best | tuned / best |")
        print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.1f} | {r[5]:.2f} | {r[6]:.2f} |")
    else:
        print(f"{'layer':28} {'batch':>5} {'thr':>3}  {'best fixed':12} {'us':>10}  {'auto/best':>9}  {'tuned/best':>10}")
        for r in rows:
            flag = "  <-" if r[5] > args.threshold else ""
            print(f"{r[0]:28} {r[1]:5} {r[2]:3}  {r[3]:12} {r[4]:10.1f}  {r[5]:9.2f}  {r[6]:10.2f}{flag}")
    print(f"within {args.threshold:.2f}x of the best fixed strategy: auto {within['auto']}/{len(rows)}, "
          f"tuned {within['tuned']}/{len(rows)} shapes")


if __name__ == "__main__":
    main()
