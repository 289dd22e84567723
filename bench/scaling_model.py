#!/usr/bin/python3
"""The scaling model of mpi::DistributedTrainer on paper: predicted efficiency for 2-64 nodes.

Weak scaling: every node trains `--node-batch` images a step (the global batch grows with the nodes), in
`--node-step-ms` (measured: one node's step, e.g. train_distributed on one rank). A step then exchanges
the parameters' gradients once along the chain of ranks (mpi::ordered_sum: each rank adds its chunks to
the sum of the ranks before it, bucket by bucket) and once back (the last rank's broadcast, bucket by
bucket). With P bytes of gradients, buckets of b bytes, a link of bandwidth B and a message latency a:

    T_comm(W) = 2 P / B + (W - 1 + ceil(log2 W)) (a + b / B)

(each byte crosses a link twice; the chain fills in W - 1 bucket hops, the broadcast's tree in
log2 W), and the efficiency is T_node / (T_node + T_comm): nothing overlaps the backward pass yet. The
chain's W - 1 is the price of the fixed order of the additions (the bits of one process); an all-reduce
would pay 2 log2 W or a ring's 2 (W - 1) / W P / B, in an order that changes with W.

  bench/scaling_model.py [--params 292618] [--node-step-ms 4.3] [--latency-us 10] [--bucket-kib 256]
"""
import argparse
import math


def comm_ms(nodes, param_bytes, gbit, latency_us, bucket_bytes):
    bw = gbit * 1e9 / 8  # bytes/s
    hops = nodes - 1 + math.ceil(math.log2(nodes))
    return (2 * param_bytes / bw + hops * (latency_us * 1e-6 + min(bucket_bytes, param_bytes) / bw)) * 1e3


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="letter CNN")
    p.add_argument("--params", type=int, default=292618, help="parameters (float32)")
    p.add_argument("--node-step-ms", type=float, default=4.3, help="one node's training step, measured")
    p.add_argument("--latency-us", type=float, default=10.0, help="a message's latency")
    p.add_argument("--bucket-kib", type=float, default=256.0, help="bucket size (DistributedTrainer: 256 KiB)")
    p.add_argument("--links", default="10,25,100", help="link speeds, Gbit/s")
    p.add_argument("--nodes", default="2,4,8,16,32,64")
    a = p.parse_args()
    links = [float(x) for x in a.links.split(",")]
    nodes = [int(x) for x in a.nodes.split(",")]
    P = 4 * a.params
    print(f"{a.name}: {P / 2**20:.2f} MiB of gradients a step, {a.node_step_ms} ms of compute a node; "
          f"latency {a.latency_us} us, buckets of {a.bucket_kib:.0f} KiB")
    print("| nodes | " + " | ".join(f"{g:g} Gbit/s: comm ms, efficiency" for g in links) + " |")
    print("| ---: | " + " | ".join("---:" for _ in links) + " |")
    for w in nodes:
        cells = []
        for g in links:
            c = comm_ms(w, P, g, a.latency_us, a.bucket_kib * 1024)
            cells.append(f"{c:.2f}, {a.node_step_ms / (a.node_step_ms + c):.0%}")
        print(f"| {w} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
