#!/usr/bin/python3
"""Training throughput of parcnn and PyTorch side by side, in one run.

Trains the letter CNN (or with --model resnet the small ResNet, bench/torch_resnet.py) with 10 classes on
Fashion-MNIST for one epoch (or --limit images) with Adam, lr 1e-3, batch 64, inputs standardised (mean
0.2860, std 0.3530), on the same number of threads:
  parcnn            build/examples/train_fashion_mnist (or $PARCNN_BUILD_DIR/examples/...)
  pytorch-best      channels_last, OPENBLAS_NUM_THREADS=1, glibc malloc tuned to keep its buffers
  pytorch-installed PyTorch as Debian installs it (only the thread count set)
The runs alternate (--rounds); each reports images/s over its training loop, and the table gives the
median per system with its spread (min-max) and the ratio parcnn / pytorch-best. PyTorch comes from
Debian's python3-torch (run this with /usr/bin/python3); without it, the PyTorch rows are skipped with a
message. PyTorch's BLAS is read from its process's memory map and printed; on Debian's reference BLAS
no ratio is printed (see compare_pytorch.py; `bash cmake/install-deps.sh --bench` installs OpenBLAS).

  bench/train_vs_pytorch.py [--model letter|resnet] [--threads 2] [--limit 0] [--rounds 3] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

from pytorch_env import INSTALL_OPENBLAS, loaded_blas, spread

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/usr/share/datasets/fashion-mnist"
BEST_ENV = {"OPENBLAS_NUM_THREADS": "1",
            "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"}


def parcnn_binary():
    build = os.environ.get("PARCNN_BUILD_DIR", os.path.join(HERE, "..", "build"))
    path = os.path.join(build, "examples", "train_fashion_mnist")
    if not os.access(path, os.X_OK):
        sys.exit(f"train_vs_pytorch: {path} not found; build parcnn first or set PARCNN_BUILD_DIR")
    return path


def run_parcnn(args):
    cmd = [parcnn_binary(), "--model", args.model, "--epochs", "1", "--batch", "64", "--threads", str(args.threads),
           "--limit", str(args.limit), "--data", args.data, "--strategy", args.strategy, "--optimizer", "adam"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return json.loads(out[-1])["images_per_second"]


# The PyTorch side runs in a child process so that its environment (malloc, OpenBLAS) applies.
def torch_child(threads, limit, data, channels_last, model_name="letter"):
    import torch
    import torch.nn.functional as F
    from torch_letter_cnn import LetterCNN, fashion_mnist
    from torch_resnet import SmallResNet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x_all, y_all = fashion_mnist(data, "train")
    if limit:
        x_all, y_all = x_all[:limit], y_all[:limit]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = (SmallResNet(10) if model_name == "resnet" else LetterCNN(10)).to(memory_format=fmt)
    loss = F.cross_entropy if model_name == "resnet" else F.nll_loss
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(len(y_all))
    start = time.perf_counter()
    for i in range(0, len(y_all), 64):
        idx_b = order[i:i + 64]
        xb = x_all[idx_b].contiguous(memory_format=fmt)
        opt.zero_grad()
        loss(model(xb), y_all[idx_b]).backward()
        opt.step()
    seconds = time.perf_counter() - start
    print(json.dumps({"images_per_second": len(y_all) / seconds, "blas": loaded_blas()}))


def run_torch(args, best):
    env = dict(os.environ)
    if best:
        env.pop("OPENBLAS_CORETYPE", None)
        env.update(BEST_ENV)
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import train_vs_pytorch as t; "
            f"t.torch_child({args.threads}, {args.limit}, {args.data!r}, {best}, {args.model!r})")
    out = subprocess.run(["/usr/bin/python3", "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="letter", choices=["letter", "resnet"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=0, help="train on the first N images (0: the whole epoch)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the table shows medians")
    p.add_argument("--strategy", default="auto", help="parcnn's strategy")
    p.add_argument("--data", default=DATA)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    have_torch = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
    if not have_torch:
        print("train_vs_pytorch: PyTorch is not installed (Debian package python3-torch); "
              "measuring parcnn alone", file=sys.stderr)
    results = {"parcnn": [], "pytorch-best": [], "pytorch-installed": []}
    blas = None
    for _ in range(args.rounds):
        results["parcnn"].append(run_parcnn(args))
        if have_torch:
            best = run_torch(args, best=True)
            blas = best["blas"]
            results["pytorch-best"].append(best["images_per_second"])
            results["pytorch-installed"].append(run_torch(args, best=False)["images_per_second"])
    med = {k: spread(v) for k, v in results.items() if v}
    ratio = None
    if blas and not blas["reference"]:
        ratio = med["parcnn"][0] / med["pytorch-best"][0]
    if args.json:
        print(json.dumps({"kind": "train", "model": args.model, "batch": 64, "threads": args.threads, "rounds": args.rounds,
                          "parcnn_images_per_second": med["parcnn"][0], "parcnn_spread": list(med["parcnn"][1:]),
                          "pytorch_images_per_second": med["pytorch-best"][0] if blas else None,
                          "pytorch_spread": list(med["pytorch-best"][1:]) if blas else None,
                          "pytorch_as_installed_images_per_second": med["pytorch-installed"][0] if blas else None,
                          "pytorch_blas": blas["name"] if blas else None, "ratio": ratio}))
        return
    images = args.limit or 60000
    print(f"training, {'small ResNet' if args.model == 'resnet' else 'letter CNN'} on Fashion-MNIST, {images} images, batch 64, Adam, {args.threads} thread(s), "
          f"median of {args.rounds} alternating round(s) (min-max)")
    for name, (m, lo, hi) in med.items():
        print(f"  {name:18s} {m:9.0f} images/s ({lo:.0f}-{hi:.0f})")
    if blas:
        print(f"  PyTorch's BLAS: {blas['name']} ({blas['path']})")
    if ratio:
        print(f"  parcnn / pytorch-best: {ratio:.2f}")
    elif blas:
        print(f"  no ratio: PyTorch ran on the reference BLAS; {INSTALL_OPENBLAS}")


if __name__ == "__main__":
    main()
