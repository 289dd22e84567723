#!/usr/bin/python3
"""How close auto and tuned come to the best fixed strategy, per benchmarked shape.

  bench/auto_vs_best.py layers.json [network.json ...] [--threshold 1.05] [--stat median|min] [--markdown]

Reads Google Benchmark JSON from layers_bench / network_bench (--benchmark_out=F
--benchmark_out_format=json). For every layer × batch × threads with more than one thread it prints the
fastest fixed strategy (serial on 1 thread counts too) and auto's and tuned's time as a ratio to it,
marked "=" where auto or tuned ran the very blocks of that strategy (the benchmarks label each run with
its cut), so that any difference is noise; then how many shapes are within the threshold or ran the
best strategy's cut. Times are real time per call; when the file holds
repetitions (best run with --benchmark_enable_random_interleaving=true), their median or, with --stat
min, their fastest.
"""
import argparse

import bench_json

FIXED = ("serial", "batch", "channel", "spatial", "tiled")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+")
    p.add_argument("--threshold", type=float, default=1.05)
    p.add_argument("--stat", choices=("median", "min"), default="median")
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()
    times, labels = {}, {}
    for f in args.files:
        times.update(bench_json.load(f, "real_time", args.stat)[0])
        labels.update(bench_json.labels(f))
    shapes = sorted({(k[0], k[1], k[2]) for k in times if k[2] > 1}, key=lambda s: (s[0].startswith("real/"), s))
    rows = []
    within = {"auto": 0, "tuned": 0}
    within_or_same = {"auto": 0, "tuned": 0}
    for layer, batch, threads in shapes:
        fixed = {(th, s): t for (l, b, th, s), t in times.items()
                 if l == layer and b == batch and (th == threads or (th == 1 and s == "serial"))
                 and s.split(":")[0] in FIXED}
        if not fixed:
            continue
        best = min(fixed, key=fixed.get)
        best_label = labels.get((layer, batch) + best)
        row = [layer, batch, threads, best[1], fixed[best]]
        for s in ("auto", "tuned"):
            key = (layer, batch, threads, s)
            t = times.get(key)
            ratio = t / fixed[best] if t else float("nan")
            same = best_label is not None and labels.get(key) == best_label
            within[s] += ratio <= args.threshold
            within_or_same[s] += ratio <= args.threshold or same
            row += [ratio, same]
        rows.append(row)
    mark = lambda same: "=" if same else " "
    if args.markdown:
        print("| layer | batch | threads | best fixed | µs | auto / best | tuned / best |")
        print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.1f} | {r[5]:.2f}{mark(r[6]).strip()} | "
                  f"{r[7]:.2f}{mark(r[8]).strip()} |")
    else:
        print(f"{'layer':28} {'batch':>5} {'thr':>3}  {'best fixed':12} {'us':>10}  {'auto/best':>10}  {'tuned/best':>11}")
        for r in rows:
            flag = "  <-" if r[5] > args.threshold and not r[6] else ""
            print(f"{r[0]:28} {r[1]:5} {r[2]:3}  {r[3]:12} {r[4]:10.1f}  {r[5]:9.2f}{mark(r[6])}  "
                  f"{r[7]:10.2f}{mark(r[8])}{flag}")
    n = len(rows)
    print(f"within {args.threshold:.2f}x of the best fixed strategy: auto {within['auto']}/{n}, tuned {within['tuned']}/{n} "
          f"shapes; within it or running the best strategy's very cut (=): auto {within_or_same['auto']}/{n}, "
          f"tuned {within_or_same['tuned']}/{n}")


if __name__ == "__main__":
    main()
