"""What parcnn's Python scripts share: the letter CNN as a PyTorch module, safetensors without the
safetensors package (Debian 12 has none), and IDX reading. Needs Debian's python3-torch and numpy."""
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LetterCNN(nn.Module):
    """The guide's network with the layer names and layouts of parcnn's models::letter_cnn."""

    def __init__(self, classes=26):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3), nn.Conv2d(64, 128, 3)
        self.fc1, self.fc2, self.fc3 = nn.Linear(128, 512), nn.Linear(512, 256), nn.Linear(256, classes)

    def forward(self, x):
        for conv in (self.conv1, self.conv2, self.conv3):
            x = F.gelu(F.max_pool2d(conv(x), 2), approximate="tanh")
        x = torch.flatten(x, 1)
        x = F.gelu(self.fc1(x), approximate="tanh")
        x = F.gelu(self.fc2(x), approximate="tanh")
        return F.log_softmax(self.fc3(x), dim=1)


def save_safetensors(state, path, dtype="F32"):
    """Writes a state dict as safetensors of dtype F32 or F64."""
    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        data = t.detach().contiguous().numpy().astype("<f4" if dtype == "F32" else "<f8").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_safetensors(path):
    """Reads an F32 safetensors file into a state dict."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    out = {}
    for name, e in json.loads(raw[8:8 + n]).items():
        if name == "__metadata__":
            continue
        if e["dtype"] != "F32":
            raise ValueError(f"{path}: {name} has dtype {e['dtype']}, expected F32")
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + end], dtype="<f4").copy()).reshape(e["shape"])
    return out


def read_idx(path):
    """An unsigned-byte IDX file (gzip or plain) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(data_dir, split):
    """(images standardised as parcnn's examples do, [N, 1, 28, 28] float32; labels int64) of 'train' or 't10k'."""
    name = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{name}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{name}-labels-idx1-ubyte.gz"))
    x = (torch.from_numpy(images.astype(np.float32) / 255.0) - 0.2860) / 0.3530
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))



if __name__ == "__main__":
    # bench/torch_letter_cnn.py OUT.safetensors: PyTorch's initialisation of the letter CNN (seed 0), for
    # parcnn_run --weights and other runs that need weights but no training.
    import sys
    if len(sys.argv) != 2:
        sys.exit("usage: torch_letter_cnn.py OUT.safetensors")
    torch.manual_seed(0)
    save_safetensors(LetterCNN().state_dict(), sys.argv[1])
