#!/usr/bin/python3
"""Weights move between PyTorch and parcnn through safetensors, both ways.

1. PyTorch builds the letter CNN (10 classes, its default init), writes its state dict as safetensors,
   and classifies the first N Fashion-MNIST test images; parcnn's `classify` loads the file and must
   report the same accuracy (the same predictions, image for image, up to float rounding at ties).
2. parcnn's `train_fashion_mnist` trains briefly and saves safetensors; PyTorch loads them into its
   module (strict state-dict load) and must reach the accuracy parcnn's `classify` reports.

usage: pytorch_safetensors.py BUILD_DIR WORK_DIR   (exit 77: PyTorch is not installed, test skipped)
"""
import gzip
import json
import os
import re
import struct
import subprocess
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("PyTorch (Debian package python3-torch) is not installed: skipping")
    sys.exit(77)

BUILD, WORK = sys.argv[1], sys.argv[2]
DATA = "/usr/share/datasets/fashion-mnist"
N = 2000
os.makedirs(WORK, exist_ok=True)


class LetterCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3), nn.Conv2d(64, 128, 3)
        self.fc1, self.fc2, self.fc3 = nn.Linear(128, 512), nn.Linear(512, 256), nn.Linear(256, 10)

    def forward(self, x):
        for conv in (self.conv1, self.conv2, self.conv3):
            x = F.gelu(F.max_pool2d(conv(x), 2), approximate="tanh")
        x = torch.flatten(x, 1)
        x = F.gelu(self.fc1(x), approximate="tanh")
        x = F.gelu(self.fc2(x), approximate="tanh")
        return F.log_softmax(self.fc3(x), dim=1)


def save_safetensors(state, path):  # the format, written by hand: no safetensors package in Debian 12
    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        data = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", e
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + end], dtype="<f4").copy()).reshape(e["shape"])
    return out


def test_images():
    def idx(name):
        with gzip.open(os.path.join(DATA, name + ".gz")) as f:
            raw = f.read()
        dims = raw[3]
        shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
    x = (torch.from_numpy(idx("t10k-images-idx3-ubyte")[:N].astype(np.float32) / 255.0) - 0.2860) / 0.3530
    return x.unsqueeze(1), torch.from_numpy(idx("t10k-labels-idx1-ubyte")[:N].astype(np.int64))


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
model = LetterCNN().eval()
path = os.path.join(WORK, "from_pytorch.safetensors")
save_safetensors(model.state_dict(), path)
a, b = torch_accuracy(model, x, y), parcnn_accuracy(path)
print(f"PyTorch weights: PyTorch {a}/{N} correct, parcnn {b}/{N}")
failures += abs(a - b) > 2  # argmax ties broken by rounding may differ in a handful of images

# 2. parcnn → PyTorch
path = os.path.join(WORK, "from_parcnn.safetensors")
subprocess.run([os.path.join(BUILD, "examples", "train_fashion_mnist"), "--limit", "1000", "--epochs", "1", "--save", path],
               check=True, capture_output=True)
model = LetterCNN().eval()
model.load_state_dict(load_safetensors(path), strict=True)
a, b = torch_accuracy(model, x, y), parcnn_accuracy(path)
print(f"parcnn weights: PyTorch {a}/{N} correct, parcnn {b}/{N}")
failures += abs(a - b) > 2 or b < N // 3  # trained: well above chance (1 in 10)
sys.exit(1 if failures else 0)
