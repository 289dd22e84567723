#!/usr/bin/python3
"""The scaling model of mpi::DistributedTrainer on paper: predicted efficiency for 2-64 nodes.

Weak scaling: every node trains `--node-batch` images a step (the global batch grows with the nodes), in
`--node-step-ms` (measured: one node's step, e.g. train_distributed on one rank). A step exchanges the
parameters' gradients once along the chain of ranks (mpi::OrderedSum: each rank adds its chunks to the
sum of the ranks before it, bucket by bucket) and once back (the last rank's broadcast, bucket by
bucket). Every bucket crosses the W - 1 links of the chain, then the ceil(log2 W) levels of the
broadcast's tree, each link taking a + size / B per bucket (bandwidth B, latency a), one bucket at a
time and in order, the links working on different buckets at once (a flow shop; the chain and the
broadcast use a link's two directions). The chain's W - 1 is the price of the fixed order of the
additions (the bits of one process); an all-reduce would take 2 log2 W steps or a ring's 2 (W - 1) / W
of the bytes, in an order that changes with W.

Overlap: a layer's buckets start as soon as the backward pass has finished them (`--groups`: each
layer's parameters and when, as a share of the node's step, its backward pass ends — the letter CNN's
from `parcnn_run --mode train --profile`, its fully connected layers first); the step waits for what is
still on the way when its backward pass ends. With `--groups ''`, every bucket starts at the end: nothing
overlaps. Efficiency: T_node / (T_node + T_waited).

  bench/scaling_model.py [--params 292618] [--node-step-ms 4.3] [--groups P@F,...] [--latency-us 10]
                         [--bucket-kib 256]
"""
import argparse
import math


# The letter CNN (10 classes): each layer's parameters and when its backward pass ends, as a share of
# a training step (parcnn_run --mode train --profile, batch 32, one thread, on the 26-class network whose
# fc3 is as small a share: forward 46.8 %, then fc3, fc2, fc1, conv3, conv2, conv1; the optimizer after).
LETTER_CNN_GROUPS = "2570@0.473,131328@0.511,66048@0.534,73856@0.658,18496@0.934,320@1.0"


def exposed_ms(nodes, groups, step_ms, gbit, latency_us, bucket_bytes):
    """The communication a step waits for: groups = [(bytes, ready share of the step)], in backward order.

    A flow shop: every bucket crosses the chain's W - 1 links, then the broadcast tree's ceil(log2 W)
    levels, each a link that takes a + size / B per bucket, one bucket at a time, in order."""
    bw = gbit * 1e9 / 8  # bytes/s
    buckets = []  # (ready ms, link ms)
    for size, ready in groups:
        for start in range(0, size, int(bucket_bytes)):
            buckets.append((ready * step_ms, (latency_us * 1e-6 + min(bucket_bytes, size - start) / bw) * 1e3))
    done = [ready for ready, _ in buckets]  # when each bucket has crossed the links so far
    for _ in range(nodes - 1 + math.ceil(math.log2(nodes))):
        free = 0.0
        for k, (_, t) in enumerate(buckets):
            free = done[k] = max(done[k], free) + t
    return max(0.0, done[-1] - max(f for _, f in groups) * step_ms)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="letter CNN")
    p.add_argument("--params", type=int, default=292618, help="parameters (float32)")
    p.add_argument("--node-step-ms", type=float, default=4.3, help="one node's training step, measured")
    p.add_argument("--groups", default=LETTER_CNN_GROUPS,
                   help="PARAMS@SHARE,...: each layer's parameters and when its backward pass ends, in backward "
                        "order, as a share of the step ('' : all at the end, no overlap)")
    p.add_argument("--latency-us", type=float, default=10.0, help="a message's latency")
    p.add_argument("--bucket-kib", type=float, default=256.0, help="bucket size (DistributedTrainer: 256 KiB)")
    p.add_argument("--links", default="10,25,100", help="link speeds, Gbit/s")
    p.add_argument("--nodes", default="2,4,8,16,32,64")
    a = p.parse_args()
    links = [float(x) for x in a.links.split(",")]
    nodes = [int(x) for x in a.nodes.split(",")]
    P = 4 * a.params
    groups = [(4 * int(g.split("@")[0]), float(g.split("@")[1])) for g in a.groups.split(",") if g]
    if not groups:
        groups = [(P, 1.0)]
    if sum(b for b, _ in groups) != P:
        p.error(f"--groups hold {sum(b for b, _ in groups) // 4} parameters, --params {a.params}")
    print(f"{a.name}: {P / 2**20:.2f} MiB of gradients a step, {a.node_step_ms} ms of compute a node; "
          f"latency {a.latency_us} us, buckets of {a.bucket_kib:.0f} KiB; "
          + ("overlapped with the backward pass" if len(groups) > 1 else "nothing overlapped"))
    print("| nodes | " + " | ".join(f"{g:g} Gbit/s: comm ms, efficiency" for g in links) + " |")
    print("| ---: | " + " | ".join("---:" for _ in links) + " |")
    for w in nodes:
        cells = []
        for g in links:
            c = exposed_ms(w, groups, a.node_step_ms, g, a.latency_us, a.bucket_kib * 1024)
            cells.append(f"{c:.2f}, {a.node_step_ms / (a.node_step_ms + c):.0%}")
        print(f"| {w} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
