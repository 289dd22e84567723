"""Reads Google Benchmark JSON written by parcnn's benchmarks (--benchmark_out=F --benchmark_out_format=json)."""
import json
import re

NAME = re.compile(r"^(.*)/batch:(\d+)/threads:(\d+)/strategy:([^/]+)")


def load(path, field):
    """{(layer, batch, threads, strategy): row[field]} and the run's context. With --benchmark_repetitions
    the medians are used, else the plain runs."""
    with open(path) as f:
        data = json.load(f)
    rows = data["benchmarks"]
    medians = [r for r in rows if r.get("aggregate_name") == "median"]
    rows = medians or [r for r in rows if r.get("run_type", "iteration") == "iteration"]
    out = {}
    for r in rows:
        m = NAME.match(r.get("run_name", r["name"]))
        if m and field in r:
            out[(m.group(1), int(m.group(2)), int(m.group(3)), m.group(4))] = float(r[field])
    return out, data.get("context", {})
