#!/usr/bin/python3
"""The letter CNN in parcnn and in PyTorch, side by side, in one run.

Forward at several batch sizes and the training step (forward + NLL + backward + SGD) at batch 64, for
each thread count, alternating the systems:
  parcnn            every strategy in --strategies (tuned: a plan measured by parcnn::tune first); the
                    table shows the best and auto
  pytorch-best      channels_last, OPENBLAS_NUM_THREADS=1, glibc malloc tuned, OPENBLAS_CORETYPE unset
  pytorch-installed PyTorch as Debian installs it, NCHW (only the thread count set)
Both sides use the same weights (PyTorch's, saved as safetensors) and inputs; before timing anything the
script checks that their log-probabilities agree. Medians of --repeat runs (at least 2000 images' worth
at small batches) after a warm-up. Run with Debian's /usr/bin/python3 and python3-torch, which also
makes the shared weights.

  bench/compare_pytorch.py [--threads 1,2] [--batches 1,16,64,256] [--repeat 30] [--json]
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
    print(json.dumps({"images_per_second": batch / times[len(times) // 2]}))


def run_torch(weights_dir, kind, batch, threads, best, repeat):
    env = dict(os.environ)
    if best:
        env.pop("OPENBLAS_CORETYPE", None)
        env.update(BEST_ENV)
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import compare_pytorch as c; "
            f"c.torch_child({weights_dir!r}, {kind!r}, {batch}, {threads}, {best}, {repeat})")
    out = subprocess.run(["/usr/bin/python3", "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["images_per_second"]


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
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
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

    rows = []
    for kind, kind_batches in (("forward", batches), ("train", [64])):
        for batch in kind_batches:
            repeat = max(args.repeat, 2000 // batch)  # small batches: enough runs for a stable median
            for t in threads:
                per = {s: run_parcnn(binary, weights, kind, batch, t, s, repeat) for s in strategies}
                best_s = max(per, key=per.get)
                torch_best = run_torch(tmp, kind, batch, t, True, repeat)
                torch_installed = run_torch(tmp, kind, batch, t, False, repeat)
                row = {"kind": kind, "batch": batch, "threads": t,
                       "parcnn_images_per_second": per[best_s], "parcnn_strategy": best_s,
                       "parcnn_auto_images_per_second": per.get("auto"),
                       "parcnn_tuned_images_per_second": per.get("tuned"),
                       "pytorch_images_per_second": torch_best,
                       "pytorch_as_installed_images_per_second": torch_installed,
                       "ratio": per[best_s] / torch_best}
                rows.append(row)
                if args.json:
                    print(json.dumps(row), flush=True)
    if args.json:
        return
    print(f"{'kind':8} {'batch':>5} {'thr':>3}  {'parcnn best':>18}  {'parcnn auto':>11}  {'parcnn tuned':>12}"
          f"  {'PyTorch best':>12}  {'PyTorch inst.':>13}  {'ratio':>5}")
    for r in rows:
        best = f"{r['parcnn_images_per_second']:.0f} ({r['parcnn_strategy']})"
        auto, tuned = (f"{v:.0f}" if v else "-" for v in (r["parcnn_auto_images_per_second"],
                                                           r["parcnn_tuned_images_per_second"]))
        print(f"{r['kind']:8} {r['batch']:5} {r['threads']:3}  {best:>18}  {auto:>11}  {tuned:>12}"
              f"  {r['pytorch_images_per_second']:12.0f}  {r['pytorch_as_installed_images_per_second']:13.0f}"
              f"  {r['ratio']:5.2f}")
    print("images/s, medians; ratio = parcnn best / PyTorch best configuration")


if __name__ == "__main__":
    main()
