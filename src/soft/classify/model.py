"""The first S.O.F.T. classifier: a small log-mel CNN that runs on a sensor gateway's CPU.

It is deliberately small (about 0.1 M parameters, four conv blocks): it must train in minutes
on two cores and classify a window in about a millisecond on the edge. Per-band normalisation
is part of the graph (statistics fixed from the training set), so the ONNX file alone maps raw
log-mel features to logits and no side file can drift from it.
"""
from __future__ import annotations

import torch
from torch import nn

CHANNELS = (16, 32, 64, 128)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class SoftCNN(nn.Module):
    """Log-mel window [N, 1, n_mels, frames] -> class logits [N, n_classes].

    Global average *and* max pooling over time-frequency feed the head: the mean captures
    sustained sounds (sirens, grinders), the max keeps a short impulse (a shot, a pop) from
    being averaged away by the rest of the window.

    With ``relative_frames`` > 0 the network also sees the window relative to the mean of its
    first frames, which the detector takes from before the onset (see DetectorConfig
    ``pre_onset_frames``): what changed, whatever the street's level and spectrum.
    """

    def __init__(self, n_mels: int = 64, n_classes: int = 13,
                 channels: tuple[int, ...] = CHANNELS, dropout: float = 0.3,
                 relative_frames: int = 0):
        super().__init__()
        if relative_frames < 0:
            raise ValueError(f'relative_frames must be >= 0, got {relative_frames}')
        self.n_mels = n_mels
        self.relative_frames = relative_frames
        self.register_buffer('band_mean', torch.zeros(1, 1, n_mels, 1))
        self.register_buffer('band_std', torch.ones(1, 1, n_mels, 1))
        blocks, c = [], 2 if relative_frames else 1
        for c_out in channels:
            blocks.append(_block(c, c_out))
            c = c_out
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * c, n_classes)

    def set_band_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Fix the per-band normalisation from training features ([n_mels] each)."""
        if mean.numel() != self.n_mels or std.numel() != self.n_mels:
            raise ValueError(f'band stats need {self.n_mels} values, got '
                             f'{mean.numel()} and {std.numel()}')
        self.band_mean.copy_(mean.reshape(1, 1, -1, 1))
        self.band_std.copy_(std.clamp_min(1e-3).reshape(1, 1, -1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.band_mean) / self.band_std
        if self.relative_frames:
            # a second map: each band relative to its level before the onset, so a sound
            # 6 dB under a loud street is not lost in the street's own absolute spectrum
            ref = x[..., :self.relative_frames].mean(dim=3, keepdim=True)
            x = torch.cat([x, x - ref], dim=1)
        x = self.features(x)
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.head(self.dropout(pooled))


class Calibrated(nn.Module):
    """The exported graph: softmax(logits / T), so the ONNX output is calibrated probabilities."""

    def __init__(self, model: nn.Module, temperature: float):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.model = model
        self.register_buffer('inv_t', torch.tensor(1.0 / float(temperature)))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(logmel) * self.inv_t, dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
