#!/usr/bin/python3
"""The letter CNN in parcnn and in PyTorch, side by side, in one run.

Forward at several batch sizes and the training step (forward + NLL + backward + SGD) at batch 64, for
each thread count, in --rounds alternating rounds (each round runs every system once, in turn):
  parcnn            every strategy in --strategies (tuned: a plan measured by parcnn::tune first); the
                    table shows the best and auto
  pytorch-best      channels_last, OPENBLAS_NUM_THREADS=1, glibc malloc tuned, OPENBLAS_CORETYPE unset
  pytorch-installed PyTorch as Debian installs it, NCHW (only the thread count set)
Both sides use the same weights (PyTorch's, saved as safetensors) and inputs; before timing anything the
script checks that their log-probabilities agree. Each run reports its median over --repeat timed calls
(at least 2000 images' worth at small batches) after a warm-up; the table gives the median of the rounds
and their spread (min-max), the ratio of the medians, and the lowest and highest ratio of one round.

PyTorch's BLAS is read from the PyTorch process's own memory map and printed with the results. On
Debian's reference BLAS (python3-torch with nothing else installed) PyTorch's Linear layers run several
times slower than its users see, so the script prints no ratio then and says how to install OpenBLAS
(`bash cmake/install-deps.sh --bench` installs everything this script needs). Run with Debian's
/usr/bin/python3.

  bench/compare_pytorch.py [--threads 1,2] [--batches 1,16,64,256] [--rounds 5] [--repeat 30] [--json]
parcnn's binaries come from build/, or from $PARCNN_BUILD_DIR.
"""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

from pytorch_env import INSTALL_OPENBLAS, loaded_blas, spread

HERE = os.path.dirname(os.path.abspath(__file__))
BEST_ENV = {"OPENBLAS_NUM_THREADS": "1",
            "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"}


def torch_child(weights_dir, kind, batch, threads, channels_last, repeat):
    """Runs in a child process (so its environment applies); prints images/s."""
    import time
    import torch
    import torch.nn.functional as F
    from torch_letter_cnn import LetterCNN, load_safetensors
    torch.set_num_threads(threads)
    model = LetterCNN(26)
    model.load_state_dict(load_safetensors(os.path.join(weights_dir, "model.safetensors")))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.rand(batch, 1, 28, 28).contiguous(memory_format=fmt)
    y = torch.arange(batch) * 7 % 26
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def once():
        if kind == "forward":
            with torch.no_grad():
                model(x)
        else:
            opt.zero_grad()
            F.nll_loss(model(x), y).backward()
            opt.step()
    start = time.perf_counter()
    while time.perf_counter() - start < 0.2:
        once()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({"images_per_second": batch / times[len(times) // 2], "blas": loaded_blas()}))


def run_torch(weights_dir, kind, batch, threads, best, repeat):
    env = dict(os.environ)
    if best:
        env.pop("OPENBLAS_CORETYPE", None)
        env.update(BEST_ENV)
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import compare_pytorch as c; "
            f"c.torch_child({weights_dir!r}, {kind!r}, {batch}, {threads}, {best}, {repeat})")
    out = subprocess.run(["/usr/bin/python3", "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_parcnn(binary, weights, kind, batch, threads, strategy, repeat, extra=()):
    cmd = [binary, "--weights", weights, "--mode", kind, "--batch", str(batch), "--threads", str(threads),
           "--strategy", strategy, "--repeat", str(repeat), *extra]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["images_per_second"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--batches", default="1,16,64,256")
    p.add_argument("--strategies", default="batch,channel,spatial,auto,tuned")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds; the table gives their medians")
    p.add_argument("--repeat", type=int, default=30, help="timed calls per run")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.rounds < 1 or args.repeat < 1:
        sys.exit("compare_pytorch: --rounds and --repeat must be at least 1")
    threads = [int(t) for t in args.threads.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    strategies = args.strategies.split(",")
    build = os.environ.get("PARCNN_BUILD_DIR", os.path.join(HERE, "..", "build"))
    binary = os.path.join(build, "bench", "parcnn_run")
    if not os.access(binary, os.X_OK):
        sys.exit(f"compare_pytorch: {binary} not found; build parcnn first or set PARCNN_BUILD_DIR")

    tmp = tempfile.mkdtemp(prefix="parcnn_compare_")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    weights = os.path.join(tmp, "model.safetensors")
    try:
        import numpy as np
        import torch
        from torch_letter_cnn import LetterCNN, save_safetensors
    except ImportError:
        sys.exit("compare_pytorch: needs PyTorch (Debian package python3-torch; run with /usr/bin/python3): it "
                 "is the other side of the comparison and writes the weights both sides share")
    torch.manual_seed(0)
    model = LetterCNN(26).eval()
    save_safetensors(model.state_dict(), weights)  # both sides load these weights
    # Agreement check: same weights, same input, log-probabilities compared before any timing.
    x = torch.rand(64, 1, 28, 28)
    x.numpy().astype("<f4").tofile(os.path.join(tmp, "x.f32"))
    subprocess.run([binary, "--weights", weights, "--batch", "64", "--input", os.path.join(tmp, "x.f32"),
                    "--output", os.path.join(tmp, "y.f32"), "--repeat", "1"], check=True, capture_output=True)
    mine = np.fromfile(os.path.join(tmp, "y.f32"), dtype="<f4").reshape(64, 26)
    with torch.no_grad():
        theirs = model(x).numpy()
    diff = float(np.abs(mine.astype(np.float64) - theirs).max())
    print(f"outputs agree: max |log-prob difference| {diff:.2e} (batch 64)", file=sys.stderr)
    if diff > 1e-3:
        sys.exit(f"compare_pytorch: parcnn and PyTorch disagree (max abs diff {diff}); not timing")

    # Which BLAS PyTorch runs on, as its timed children will (the best configuration's environment).
    blas = run_torch(tmp, "forward", 1, 1, True, 1)["blas"]
    print(f"PyTorch's BLAS: {blas['name']} ({blas['path'] or 'no BLAS library mapped'})", file=sys.stderr)
    if blas["reference"]:
        print("compare_pytorch: PyTorch is on the reference BLAS, not what its users run: no ratio is printed; "
              f"{INSTALL_OPENBLAS}", file=sys.stderr)

    rows = []
    for kind, kind_batches in (("forward", batches), ("train", [64])):
        for batch in kind_batches:
            repeat = max(args.repeat, 2000 // batch)  # small batches: enough runs for a stable median
            for t in threads:
                runs = {s: [] for s in strategies + ["pytorch-best", "pytorch-installed"]}
                for _ in range(args.rounds):  # alternating: a slow spell of the machine hits every system
                    for s in strategies:
                        runs[s].append(run_parcnn(binary, weights, kind, batch, t, s, repeat))
                    runs["pytorch-best"].append(run_torch(tmp, kind, batch, t, True, repeat)["images_per_second"])
                    runs["pytorch-installed"].append(
                        run_torch(tmp, kind, batch, t, False, repeat)["images_per_second"])
                rows.append(summarise(kind, batch, t, strategies, runs, blas))
                if args.json:
                    print(json.dumps(rows[-1]), flush=True)
    if not args.json:
        print_table(rows, blas, args.rounds)


def summarise(kind, batch, threads, strategies, runs, blas):
    """One row: medians over the rounds with their spread; the ratio of the best parcnn strategy's median
    to PyTorch best's, and the lowest and highest ratio of a single round (None on the reference BLAS)."""
    med = {s: spread(v) for s, v in runs.items()}
    best_s = max(strategies, key=lambda s: med[s][0])
    per_round = [p / q for p, q in zip(runs[best_s], runs["pytorch-best"])]
    ok = not blas["reference"]
    return {"kind": kind, "batch": batch, "threads": threads, "rounds": len(runs[best_s]),
            "parcnn_images_per_second": med[best_s][0], "parcnn_spread": list(med[best_s][1:]),
            "parcnn_strategy": best_s,
            "parcnn_auto_images_per_second": med["auto"][0] if "auto" in med else None,
            "parcnn_tuned_images_per_second": med["tuned"][0] if "tuned" in med else None,
            "pytorch_images_per_second": med["pytorch-best"][0], "pytorch_spread": list(med["pytorch-best"][1:]),
            "pytorch_as_installed_images_per_second": med["pytorch-installed"][0],
            "pytorch_blas": blas["name"],
            "ratio": med[best_s][0] / med["pytorch-best"][0] if ok else None,
            "ratio_min": min(per_round) if ok else None, "ratio_max": max(per_round) if ok else None}


def print_table(rows, blas, rounds):
    def cell(median, lo_hi):
        return f"{median:.0f} ({lo_hi[0]:.0f}-{lo_hi[1]:.0f})"
    print(f"{'kind':8} {'batch':>5} {'thr':>3}  {'parcnn best (spread)':>27}  {'auto':>7}  {'tuned':>7}"
          f"  {'PyTorch best (spread)':>23}  {'inst.':>7}  {'ratio':>5}  {'one round':>11}")
    for r in rows:
        best = f"{cell(r['parcnn_images_per_second'], r['parcnn_spread'])} {r['parcnn_strategy']}"
        auto, tuned = (f"{v:.0f}" if v else "-" for v in (r["parcnn_auto_images_per_second"],
                                                           r["parcnn_tuned_images_per_second"]))
        ratio = f"{r['ratio']:5.2f}  {r['ratio_min']:5.2f}-{r['ratio_max']:.2f}" if r["ratio"] else "    -"
        print(f"{r['kind']:8} {r['batch']:5} {r['threads']:3}  {best:>27}  {auto:>7}  {tuned:>7}"
              f"  {cell(r['pytorch_images_per_second'], r['pytorch_spread']):>23}"
              f"  {r['pytorch_as_installed_images_per_second']:7.0f}  {ratio}")
    print(f"images/s, medians of {rounds} alternating rounds (min-max); ratio = parcnn best / PyTorch best "
          f"configuration, then the lowest and highest ratio of one round. PyTorch's BLAS: {blas['name']}")
    if blas["reference"]:
        print(f"No ratio: PyTorch ran on the reference BLAS; {INSTALL_OPENBLAS}.")


if __name__ == "__main__":
    main()
