#!/usr/bin/python3
"""The PyTorch side of train_fashion_mnist's accuracy: the same network (the letter CNN or the small
ResNet), data, standardisation, batch, optimizer and schedule, trained by PyTorch; prints the test
accuracy after every epoch and one JSON line. Run with Debian's /usr/bin/python3 (python3-torch).

  bench/torch_train_fashion_mnist.py [--model letter|resnet] [--epochs 4] [--optimizer sgd|adam] [--lr 0.1]
                                     [--threads 2] [--seed 0]
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_letter_cnn import LetterCNN, fashion_mnist  # noqa: E402
from torch_resnet import SmallResNet  # noqa: E402

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--model", default="resnet", choices=["letter", "resnet"])
p.add_argument("--epochs", type=int, default=4)
p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
p.add_argument("--lr", type=float, default=None, help="default 0.1 for sgd, 1e-3 for adam")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
a = p.parse_args()
lr = a.lr if a.lr is not None else (0.1 if a.optimizer == "sgd" else 1e-3)

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
x_train, y_train = fashion_mnist(a.data, "train")
x_test, y_test = fashion_mnist(a.data, "t10k")
model = SmallResNet(10) if a.model == "resnet" else LetterCNN(10)
loss_of = F.cross_entropy if a.model == "resnet" else F.nll_loss
if a.optimizer == "sgd":
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.epochs) if a.model == "resnet" else None
else:
    opt, schedule = torch.optim.Adam(model.parameters(), lr=lr), None
accuracy, seconds = 0.0, 0.0
for epoch in range(1, a.epochs + 1):
    model.train()
    order = torch.randperm(len(y_train))
    start = time.perf_counter()
    for i in range(0, len(y_train), 64):
        idx = order[i:i + 64]
        opt.zero_grad()
        loss_of(model(x_train[idx]), y_train[idx]).backward()
        opt.step()
    seconds += time.perf_counter() - start
    if schedule:
        schedule.step()
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum()) for i in range(0, 10000, 1000))
    accuracy = correct / 10000
    print(f"epoch {epoch}/{a.epochs}  test acc {accuracy:.4f}", flush=True)
print(json.dumps({"model": a.model, "epochs": a.epochs, "test_accuracy": accuracy, "train_seconds": seconds}))
