#!/usr/bin/python3
"""Weights move between PyTorch and parcnn through safetensors, both ways.

1. PyTorch builds the letter CNN (10 classes, its default init), writes its state dict as safetensors,
   and classifies the first N Fashion-MNIST test images; parcnn's `classify` loads the file and must
   report the same accuracy (the same predictions, image for image, up to float rounding at ties).
2. parcnn's `train_fashion_mnist` trains briefly and saves safetensors; PyTorch loads them into its
   module (strict state-dict load) and must reach the accuracy parcnn's `classify` reports.

usage: pytorch_safetensors.py BUILD_DIR WORK_DIR   (exit 77: PyTorch is not installed, test skipped)
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
try:
    import torch
    from torch_letter_cnn import LetterCNN, fashion_mnist, load_safetensors, save_safetensors
except ImportError:
    print("PyTorch (Debian package python3-torch) is not installed: skipping")
    sys.exit(77)

BUILD, WORK = sys.argv[1], sys.argv[2]
DATA = "/usr/share/datasets/fashion-mnist"
N = 2000
os.makedirs(WORK, exist_ok=True)


def test_images():
    x, y = fashion_mnist(DATA, "t10k")
    return x[:N], y[:N]


def torch_accuracy(model, x, y):
    with torch.no_grad():
        return int((model(x).argmax(1) == y).sum())


def parcnn_accuracy(weights):
    out = subprocess.run([os.path.join(BUILD, "examples", "classify"), "--weights", weights, "--limit", str(N)],
                         check=True, capture_output=True, text=True).stdout
    return int(re.search(r"test accuracy [0-9.]+ \((\d+) of", out).group(1))


x, y = test_images()
failures = 0

# 1. PyTorch → parcnn
torch.manual_seed(5)
model = LetterCNN(10).eval()
path = os.path.join(WORK, "from_pytorch.safetensors")
save_safetensors(model.state_dict(), path)
a, b = torch_accuracy(model, x, y), parcnn_accuracy(path)
print(f"PyTorch weights: PyTorch {a}/{N} correct, parcnn {b}/{N}")
failures += abs(a - b) > 2  # argmax ties broken by rounding may differ in a handful of images

# 2. parcnn → PyTorch
path = os.path.join(WORK, "from_parcnn.safetensors")
subprocess.run([os.path.join(BUILD, "examples", "train_fashion_mnist"), "--limit", "1000", "--epochs", "1", "--save", path],
               check=True, capture_output=True)
model = LetterCNN(10).eval()
model.load_state_dict(load_safetensors(path), strict=True)
a, b = torch_accuracy(model, x, y), parcnn_accuracy(path)
print(f"parcnn weights: PyTorch {a}/{N} correct, parcnn {b}/{N}")
failures += abs(a - b) > 2 or b < N // 3  # trained: well above chance (1 in 10)
sys.exit(1 if failures else 0)
