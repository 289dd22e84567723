"""Reads Google Benchmark JSON written by parcnn's benchmarks (--benchmark_out=F --benchmark_out_format=json)."""
import json
import re

NAME = re.compile(r"^(.*)/batch:(\d+)/threads:(\d+)/strategy:([^/]+)")


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
    out = {}
    if stat == "min" and iterations:
        for r in iterations:
            m = NAME.match(r.get("run_name", r["name"]))
            if m and field in r:
                key = (m.group(1), int(m.group(2)), int(m.group(3)), m.group(4))
                out[key] = min(out.get(key, float("inf")), float(r[field]))
        return out, data.get("context", {})
    for r in medians or iterations:
        m = NAME.match(r.get("run_name", r["name"]))
        if m and field in r:
            out[(m.group(1), int(m.group(2)), int(m.group(3)), m.group(4))] = float(r[field])
    return out, data.get("context", {})


def labels(path):
    """{(layer, batch, threads, strategy): label} — what each benchmark ran (bench_common's cut_label)."""
    with open(path) as f:
        rows = json.load(f)["benchmarks"]
    out = {}
    for r in rows:
        m = NAME.match(r.get("run_name", r["name"]))
        if m and r.get("label"):
            out[(m.group(1), int(m.group(2)), int(m.group(3)), m.group(4))] = r["label"]
    return out
