"""PyTorch modules for the wick layers that torch.nn has no class for, shared by the
fixture generators and the benchmark's PyTorch twins."""
import torch.nn as nn


class Residual(nn.Module):
    """The PyTorch module a wick `{ type = "Residual", layers, projection }` stands for:
    `layers(x) + projection(x)`, or `layers(x) + x` without a projection."""

    def __init__(self, layers, projection=None):
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.projection = nn.Sequential(*projection) if projection else None

    def forward(self, x):
        shortcut = x if self.projection is None else self.projection(x)
        return self.layers(x) + shortcut
