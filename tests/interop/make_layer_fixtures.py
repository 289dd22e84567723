#!/usr/bin/python3
"""PyTorch's values for parcnn's layers: each case's input, parameters, output, and the gradients of
sum(output * dy) for a random dy, in float64, written as one safetensors file that
tests/interop/layer_parity_test.cpp compares parcnn against.

    make_layer_fixtures.py OUT.safetensors   (exit 77: PyTorch is not installed)

tests/interop/layer_fixtures.safetensors is this script's output, kept in the repository so that the
parity test runs without PyTorch; the interop/pytorch_layers test writes a fresh one and checks it too.
Names: "<case>.x", ".y", ".dy", ".dx", ".param.<name>", ".grad.<name>", ".buffer.<name>" (after the pass).
"""
import os
import sys

try:
    import torch
    import torch.nn as nn
except ImportError:
    print("PyTorch (Debian package python3-torch) is not installed: skipping")
    sys.exit(77)

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)


def body(c_in, c_out, stride):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))


class Residual(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.body = body(c_in, c_out, stride)
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


def randomise_batch_norm(module):
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    return module


# name: (module, input shape, training mode)
CASES = {
    "relu": (nn.ReLU(), (3, 4, 5, 5), False),
    "leaky_relu": (nn.LeakyReLU(0.1), (3, 4, 5, 5), False),
    "sigmoid": (nn.Sigmoid(), (3, 4, 5, 5), False),
    "tanh": (nn.Tanh(), (3, 4, 5, 5), False),
    "softmax": (nn.Softmax(dim=1), (5, 7), False),
    "avg_pool": (nn.AvgPool2d(2), (2, 3, 7, 6), False),
    "avg_pool_padded": (nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 8, 7), False),
    "adaptive_avg_pool": (nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5), False),
    "global_avg_pool": (nn.AdaptiveAvgPool2d(1), (2, 3, 7, 5), False),
    "batch_norm_train": (randomise_batch_norm(nn.BatchNorm2d(3)), (4, 3, 5, 4), True),
    "batch_norm_eval": (randomise_batch_norm(nn.BatchNorm2d(3)), (4, 3, 5, 4), False),
    "residual_train": (randomise_batch_norm(Residual(3, 4, 2)), (3, 3, 6, 5), True),
    "conv_grouped": (nn.Conv2d(6, 4, 3, 1, 1, groups=2), (3, 6, 7, 6), False),
    "conv_depthwise": (nn.Conv2d(4, 8, 3, 2, 1, groups=4, bias=False), (2, 4, 9, 8), False),
    "conv_dilated": (nn.Conv2d(3, 5, (3, 2), (1, 2), (2, 1), dilation=(2, 3)), (2, 3, 9, 10), False),
    "conv_grouped_dilated": (nn.Conv2d(4, 6, 3, 1, 2, dilation=2, groups=2), (2, 4, 8, 7), False),
}

out = {}
for name, (module, shape, training) in CASES.items():
    module.train(training)
    for p_name, p in module.named_parameters():
        out[f"{name}.param.{p_name}"] = p.detach().clone()
    for b_name, b in module.named_buffers():
        if not b_name.endswith("num_batches_tracked"):
            out[f"{name}.buffer_before.{b_name}"] = b.detach().clone()
    x = torch.empty(shape).uniform_(-2, 2).requires_grad_()
    y = module(x)
    dy = torch.empty(y.shape).uniform_(-1, 1)
    (y * dy).sum().backward()
    out[f"{name}.x"], out[f"{name}.y"], out[f"{name}.dy"], out[f"{name}.dx"] = x.detach(), y.detach(), dy, x.grad
    for p_name, p in module.named_parameters():
        out[f"{name}.grad.{p_name}"] = p.grad.detach().clone()
    for b_name, b in module.named_buffers():
        if not b_name.endswith("num_batches_tracked"):
            out[f"{name}.buffer.{b_name}"] = b.detach().clone()

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_letter_cnn import save_safetensors  # noqa: E402

save_safetensors(out, sys.argv[1], dtype="F64")
print(f"{len(CASES)} cases, {len(out)} tensors -> {sys.argv[1]}")
