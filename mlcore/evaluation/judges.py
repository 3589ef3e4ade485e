"""What scores a GAN's samples: the mixture's known centres (2-D sets), or a small CNN
classifier trained once on the real training images and cached under the run directory
(`judge.pt`), so every epoch, `mlcore eval` and a resumed run use the same judge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlcore.config import EvalConfig
from mlcore.data import DataBundle, make_loader
from mlcore.evaluation.generation_metrics import classifier_report, mixture_report
from mlcore.models.cnn import CNN
from mlcore.training.checkpoint import load_checkpoint, save_checkpoint

JUDGE_FILE = "judge.pt"
JUDGE_STEPS = 20_000  # samples seen in training: ~16 epochs of digits, 1 of mnist


def denormalize(x: torch.Tensor, stats: dict | None) -> torch.Tensor:
    """Back to the data's own units: x * std + mean, per feature [N, F] or channel."""
    if not stats:
        return x
    shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
    mean = torch.tensor(stats["mean"], dtype=x.dtype, device=x.device).reshape(shape)
    std = torch.tensor(stats["std"], dtype=x.dtype, device=x.device).reshape(shape)
    return x * std + mean


class MixtureJudge:
    def __init__(self, data: DataBundle, cfg: EvalConfig):
        self.centres = torch.tensor(data.info["centres"], dtype=torch.float64)
        self.std, self.stats, self.cfg = float(data.info["mode_std"]), data.stats, cfg

    def report(self, samples: torch.Tensor) -> dict[str, Any]:
        raw = denormalize(samples.detach().cpu().double(), self.stats)
        return mixture_report(
            raw, self.centres, self.std, self.cfg.quality_stds, self.cfg.min_mode_share
        )

    def save(self, run_dir: Path) -> None: ...


class ClassifierJudge:
    def __init__(self, data: DataBundle, cfg: EvalConfig, cache: Path | None = None):
        self.cfg = cfg
        # The judge never draws from the run's RNG: its network is made (and trained) from
        # a seed of its own, so a resumed session that loads it, and DDP ranks that never
        # make it (rank 0 judges), draw the run's latents exactly as a fresh single run does.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.net = CNN(data.input_shape, data.num_classes, (16, 32), (64,), "relu")
            if cache is not None and (cache / JUDGE_FILE).is_file():
                state = load_checkpoint(cache / JUDGE_FILE)
                self.net.load_state_dict(state["model"])
                self.accuracy = state["val_accuracy"]
            else:
                self.accuracy = train_classifier(self.net, data)
        self.net.eval().requires_grad_(False)

    @torch.no_grad()
    def report(self, samples: torch.Tensor) -> dict[str, Any]:
        probs = torch.softmax(self.net(samples.detach().cpu().float()), dim=1)
        report = classifier_report(probs, self.cfg.confidence, self.cfg.min_mode_share)
        return {**report, "judge_val_accuracy": self.accuracy}

    def save(self, run_dir: Path) -> None:
        state = {"model": self.net.state_dict(), "val_accuracy": self.accuracy}
        save_checkpoint(Path(run_dir) / JUDGE_FILE, state)


def train_classifier(net: nn.Module, data: DataBundle) -> float:
    """Adam on the real training split (CPU, seeded); returns accuracy on the val split."""
    cpu = torch.device("cpu")
    loader = make_loader(data.train, 64, shuffle=True, seed=0, device=cpu)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    epochs = max(1, JUDGE_STEPS // max(len(data.train), 1))
    net.train()
    for epoch in range(epochs):
        for x, y in loader.epoch(epoch):
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    net.eval()
    right = total = 0
    with torch.no_grad():
        for x, y in make_loader(data.val, 256, shuffle=False, seed=0, device=cpu).epoch(0):
            right += int((net(x).argmax(1) == y).sum())
            total += len(y)
    return right / max(total, 1)
