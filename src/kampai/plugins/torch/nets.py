"""Built-in small networks (``--model MLP``): they work without user code."""

from __future__ import annotations

from torch import nn


class MLP(nn.Module):
    """A multi-layer perceptron: ``hidden`` units per layer, ReLU, dropout."""

    def __init__(self, n_features: int, n_outputs: int, hidden: tuple[int, ...] | list[int] = (128, 64),
                 dropout: float = 0.1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, int(size)), nn.ReLU(), nn.Dropout(float(dropout))]
            width = int(size)
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, X):
        return self.net(X)
