"""parcnn's models::small_resnet as a PyTorch module, with the same parameter names and layouts (so a
state dict and parcnn's safetensors move between the two). Needs Debian's python3-torch."""
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return y + self.shortcut(x)


class SmallResNet(nn.Module):
    """conv1/bn1/relu, block1 (w), block2 (2w, stride 2), block3 (4w, stride 2), each followed by ReLU,
    global average pooling, fc: raw scores."""

    def __init__(self, classes=10, in_channels=1, width=16):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.block1 = BasicBlock(width, width, 1)
        self.block2 = BasicBlock(width, 2 * width, 2)
        self.block3 = BasicBlock(2 * width, 4 * width, 2)
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for block in (self.block1, self.block2, self.block3):
            x = F.relu(block(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
