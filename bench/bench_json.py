"""Reads Google Benchmark JSON written by parcnn's benchmarks (--benchmark_out=F --benchmark_out_format=json)."""
import json
import re

NAME = re.compile(r"^(.*)/batch:(\d+)/threads:(\d+)/strategy:([^/]+)")


def key(row):
    """(layer, batch, threads, strategy) of a benchmark row, or None for a row of another shape of name."""
    m = NAME.match(row.get("run_name", row["name"]))
    return (m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)) if m else None


def load(path, field, stat="median"):
    """{(layer, batch, threads, strategy): row[field]} and the run's context. With --benchmark_repetitions
    each benchmark's repetitions are summarised by `stat`: "median" (Google Benchmark's aggregate) or
    "min" (the fastest repetition: on a host whose second core is at times taken away, noise only adds
    time, so the minimum of interleaved repetitions is the fairest estimate of a strategy's speed).
    Without repetitions, the plain runs; with aggregates only, the medians."""
    with open(path) as f:
        data = json.load(f)
    rows = data["benchmarks"]
    iterations = [r for r in rows if r.get("run_type", "iteration") == "iteration"]
    medians = [r for r in rows if r.get("aggregate_name") == "median"]
    fastest = stat == "min" and iterations
    out = {}
    for r in iterations if fastest else medians or iterations:
        k = key(r)
        if k and field in r:
            out[k] = min(out.get(k, float("inf")), float(r[field])) if fastest else float(r[field])
    return out, data.get("context", {})


def labels(path):
    """{(layer, batch, threads, strategy): label} — what each benchmark ran (bench_common's cut_label)."""
    with open(path) as f:
        rows = json.load(f)["benchmarks"]
    return {key(r): r["label"] for r in rows if key(r) and r.get("label")}
