"""The config's sections: one frozen dataclass per YAML section, with its checks.

Keys and defaults are those of DESIGN.md. This module must not import torch: `mlcore config`
and config errors answer before torch would have finished importing.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from mlcore.config.schema import SchemaError, check, to_dict

# The registries (MODELS, DATASETS, OPTIMIZERS) live beside their code and import torch;
# these name lists let validation answer without it. A test keeps the two in step.
MODEL_NAMES = ("linear", "mlp", "cnn", "segnet", "torchvision", "gan")
DATASET_NAMES = (
    "line",
    "moons",
    "circles",
    "spirals",
    "gaussian_ring",
    "gaussian_grid",
    "iris",
    "wine",
    "breast_cancer",
    "diabetes",
    "digits",
    "digit_seg",
    "mnist",
    "fashion_mnist",
    "cifar10",
    "image_folder",
    "csv",
)
OPTIMIZER_NAMES = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULER_NAMES = ("none", "step", "cosine", "plateau", "onecycle")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "gelu")
Mode = Literal["min", "max"]


def _named(value: str, valid: tuple[str, ...], what: str) -> None:
    import difflib

    if value not in valid:
        match = difflib.get_close_matches(value, valid, n=1)
        hint = f" (did you mean {match[0]!r}?)" if match else ""
        raise SchemaError("name", f"unknown {what} {value!r}{hint}; valid: {', '.join(valid)}")


@dataclass(frozen=True)
class RunConfig:
    name: str = "run"
    seed: int = 0

    def __post_init__(self) -> None:
        # the name becomes a folder under the runs root: one plain path component
        ok = bool(self.name) and self.name not in (".", "..") and not set("/\\") & set(self.name)
        check(ok, "name", f"must be a plain folder name (no '/', not '..'), got {self.name!r}")
        check(0 <= self.seed < 2**63, "seed", f"must be an integer >= 0, got {self.seed}")


@dataclass(frozen=True)
class SplitConfig:
    train: float = 0.7
    val: float = 0.15
    test: float = 0.15

    def __post_init__(self) -> None:
        for part in ("train", "val", "test"):
            check(0.0 <= getattr(self, part) <= 1.0, part, "must be a fraction in [0, 1]")
        check(self.train > 0, "train", "must be > 0")
        check(
            self.val > 0, "val", "must be > 0: validation picks best.pt and drives early stopping"
        )
        total = self.train + self.val + self.test
        check(abs(total - 1.0) < 1e-6, "train", f"train + val + test must sum to 1, got {total:g}")


@dataclass(frozen=True)
class DataConfig:
    name: str = "digits"
    root: str | None = None
    download: bool = False
    path: str | None = None
    target: str | None = None
    task: Literal["auto", "classification", "regression"] = "auto"
    n_samples: int | None = None
    noise: float | None = None
    w: list[float] | None = None
    b: float | None = None
    split: SplitConfig = field(default_factory=SplitConfig)
    stratify: bool = True
    normalize: bool = True
    dedupe: bool = False
    # deliberate changes for studies (mlcore/data/variants.py): added to every feature (one
    # number) or to each (a list);
    # per class the fraction of its samples kept; the fraction of test samples replaced by
    # copies of training samples
    shift: float | list[float] = 0.0
    class_fraction: list[float] | None = None
    contaminate: float = 0.0
    batch_size: int = 64
    # validation and test batches: inference keeps no activations for backward, so larger
    # batches cost little memory and save per-batch overhead; null: max(batch_size, 256)
    eval_batch_size: int | None = None
    num_workers: int = 0

    def __post_init__(self) -> None:
        _named(self.name, DATASET_NAMES, "dataset")
        check(self.batch_size >= 1, "batch_size", "must be >= 1")
        check(
            self.eval_batch_size is None or self.eval_batch_size >= 1,
            "eval_batch_size",
            "must be >= 1, or null for max(batch_size, 256)",
        )
        check(self.num_workers >= 0, "num_workers", "must be >= 0")
        check(self.n_samples is None or self.n_samples >= 10, "n_samples", "must be >= 10")
        check(self.noise is None or self.noise >= 0, "noise", "must be >= 0")
        ok = self.class_fraction is None or all(0 < f <= 1 for f in self.class_fraction)
        check(ok, "class_fraction", "each class's fraction must be in (0, 1]")
        shifts = self.shift if isinstance(self.shift, list | tuple) else (self.shift,)
        check(all(math.isfinite(v) for v in shifts), "shift", "must be finite numbers")
        check(0 <= self.contaminate <= 1, "contaminate", "must be a fraction in [0, 1]")
        if self.name == "csv":
            check(self.path is not None, "path", "the csv dataset needs data.path (a CSV file)")
            check(self.target is not None, "target", "the csv dataset needs data.target")


def _check_net(net: Any) -> None:
    """The checks shared by every network section (model, generator, discriminator)."""
    _named_key(net.activation, ACTIVATIONS, "activation")
    check(0.0 <= net.dropout < 1.0, "dropout", f"must be in [0, 1), got {net.dropout}")
    check(all(c >= 1 for c in net.channels), "channels", "sizes must be >= 1")
    check(all(h >= 1 for h in net.hidden), "hidden", "sizes must be >= 1")


@dataclass(frozen=True)
class GeneratorConfig:
    """A GAN's generator: `hidden` for the MLP (vectors), `channels` for the DCGAN-style
    transposed-conv stack (images; coarse to fine)."""

    hidden: list[int] = (128, 128)
    channels: list[int] = (64, 32)
    activation: str = "relu"
    batchnorm: bool = False
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _check_net(self)


@dataclass(frozen=True)
class DiscriminatorConfig:
    hidden: list[int] = (128, 128)
    channels: list[int] = (32, 64)
    activation: str = "leaky_relu"
    batchnorm: bool = False
    dropout: float = 0.0
    spectral_norm: bool = False

    def __post_init__(self) -> None:
        _check_net(self)


# GAN-only model keys, null for every other model; their defaults for a gan.
GAN_DEFAULTS = {"latent_dim": 8, "d_steps": 1, "loss": "bce", "pack": 1}
GAN_LOSSES = ("bce", "hinge")
GAN_KEYS = ("latent_dim", "generator", "discriminator", "d_steps", "loss", "ema", "pack")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mlp"
    channels: list[int] = (32, 64)
    hidden: list[int] = (64,)
    activation: str = "relu"
    batchnorm: bool = False
    dropout: float = 0.0
    bias: bool = True
    arch: str | None = None  # torchvision: a torchvision.models builder, e.g. resnet18
    latent_dim: int | None = None
    generator: GeneratorConfig | None = None
    discriminator: DiscriminatorConfig | None = None
    d_steps: int | None = None
    loss: str | None = None
    ema: float | None = None  # decay of the generator's weight average; null: none
    pack: int | None = None  # samples the discriminator judges together (PacGAN)

    def __post_init__(self) -> None:
        _named(self.name, MODEL_NAMES, "model")
        _check_net(self)
        self._check_arch()
        if self.name == "gan":
            self._check_gan()
            return
        for key in GAN_KEYS:
            check(getattr(self, key) is None, key, f"only model.name gan has {key}")

    def _check_arch(self) -> None:
        # the arch is checked against torchvision when the model is built (no torch here)
        if self.name == "torchvision":
            check(
                bool(self.arch),
                "arch",
                "model.name: torchvision needs an arch: a torchvision.models classification "
                "builder such as resnet18, mobilenet_v3_small, vit_b_16",
            )
        else:
            check(
                self.arch is None,
                "arch",
                f"only model.name: torchvision reads model.arch (this model is {self.name})",
            )

    def _check_gan(self) -> None:
        for key in ("generator", "discriminator"):
            check(getattr(self, key) is not None, key, f"a gan needs a model.{key} section")
        for key, value in GAN_DEFAULTS.items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        check(self.latent_dim >= 1, "latent_dim", f"must be >= 1, got {self.latent_dim}")
        check(self.d_steps >= 1, "d_steps", f"must be >= 1, got {self.d_steps}")
        check(self.pack >= 1, "pack", f"must be >= 1, got {self.pack}")
        _named_key(self.loss, GAN_LOSSES, "loss")
        ok = self.ema is None or 0.0 < self.ema < 1.0
        check(ok, "ema", f"must be a decay in (0, 1) (e.g. 0.999) or null, got {self.ema}")


def _named_key(value: str, valid: tuple[str, ...], key: str) -> None:
    try:
        _named(value, valid, key)
    except SchemaError as err:
        raise SchemaError(key, err.message) from None


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "adam"
    lr: float = 0.001
    momentum: float = 0.0
    nesterov: bool = False
    betas: list[float] = (0.9, 0.999)
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        _named(self.name, OPTIMIZER_NAMES, "optimizer")
        check(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        check(0.0 <= self.momentum < 1.0, "momentum", "must be in [0, 1)")
        check(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        check(len(self.betas) == 2, "betas", "must be two numbers [beta1, beta2]")
        check(all(0 <= b < 1 for b in self.betas), "betas", "each must be in [0, 1)")
        check(0 < self.alpha < 1, "alpha", "must be in (0, 1)")
        check(self.eps > 0, "eps", "must be > 0")
        if self.nesterov:
            check(self.name == "sgd", "nesterov", "only the sgd optimizer has Nesterov momentum")
            check(self.momentum > 0, "nesterov", "needs optimizer.momentum > 0")


@dataclass(frozen=True)
class SchedulerConfig:
    name: str = "none"
    step_size: int = 10  # step: decay every step_size epochs
    gamma: float = 0.1  # step: multiply lr by gamma
    factor: float = 0.1  # plateau: multiply lr by factor
    patience: int = 5  # plateau: epochs without improvement
    min_lr: float = 0.0  # cosine, plateau
    max_lr: float | None = None  # onecycle; default 10 x optimizer.lr

    def __post_init__(self) -> None:
        _named(self.name, SCHEDULER_NAMES, "scheduler")
        check(self.step_size >= 1, "step_size", "must be >= 1")
        check(0 < self.gamma <= 1, "gamma", "must be in (0, 1]")
        check(0 < self.factor < 1, "factor", "must be in (0, 1)")
        check(self.patience >= 0, "patience", "must be >= 0")
        check(self.max_lr is None or self.max_lr > 0, "max_lr", "must be > 0")


@dataclass(frozen=True)
class RegularizationConfig:
    l1: float = 0.0
    l2: float = 0.0
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        check(self.l1 >= 0, "l1", "must be >= 0")
        check(self.l2 >= 0, "l2", "must be >= 0")
        check(self.grad_clip is None or self.grad_clip > 0, "grad_clip", "must be > 0 or null")


@dataclass(frozen=True)
class EarlyStoppingConfig:
    monitor: str = "val/loss"
    mode: Mode | None = None  # null: min for losses and errors, max for scores
    patience: int | None = None  # null: never stop early
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        _infer_mode(self)
        check(self.patience is None or self.patience >= 1, "patience", "must be >= 1 or null")
        check(self.min_delta >= 0, "min_delta", "must be >= 0")


@dataclass(frozen=True)
class CheckpointConfig:
    monitor: str = "val/loss"
    mode: Mode | None = None  # null: min for losses and errors, max for scores

    def __post_init__(self) -> None:
        _infer_mode(self)


# Monitored values that are better when larger; everything else (losses, errors) is minimized.
MAXIMIZED = ("accuracy", "f1", "miou", "pixel_accuracy", "r2", "score", "quality", "coverage")


def _infer_mode(section: Any) -> None:
    """Fill in `mode` from the monitor's name, so `monitor: val/accuracy` alone keeps the
    most accurate epoch rather than the least."""
    if section.mode is None:
        name = section.monitor.rsplit("/", 1)[-1]
        object.__setattr__(section, "mode", "max" if name in MAXIMIZED else "min")


@dataclass(frozen=True)
class TrainerConfig:
    epochs: int = 10
    device: str = "auto"
    strategy: Literal["auto", "single", "dp", "ddp"] = "auto"
    devices: int | Literal["auto"] = "auto"
    precision: Literal["fp32", "amp", "bf16"] = "fp32"
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    deterministic: bool = True
    log_grad_norms: bool = True
    # metrics.csv gains weights/sparsity, weights/norm, val/dead_relu per epoch (off: each
    # epoch costs no more than before; eval and the test report measure them regardless)
    log_model_stats: bool = False
    sample_every: int = 10  # gan: plots/samples_epoch_NNN.png every this many epochs; 0: never
    # CPU threads of one process: auto keeps PyTorch's choice (OMP_NUM_THREADS, else the
    # cores); results are bit-identical only between runs at the same count.
    threads: int | Literal["auto"] = "auto"

    def __post_init__(self) -> None:
        check(self.sample_every >= 0, "sample_every", "must be >= 0")
        check(self.threads == "auto" or self.threads >= 1, "threads", "must be >= 1 or auto")
        check(self.epochs >= 1, "epochs", f"must be >= 1, got {self.epochs}")
        ok = self.device in ("auto", "cpu", "cuda", "mps") or (
            self.device.startswith("cuda:") and self.device[5:].isdigit()
        )
        check(
            ok, "device", f"unknown device {self.device!r}; allowed: auto, cpu, cuda, cuda:N, mps"
        )
        check(self.devices == "auto" or self.devices >= 1, "devices", "must be >= 1 or auto")


@dataclass(frozen=True)
class EvalConfig:
    split: Literal["train", "val", "test"] = "test"
    positive_class: int | None = None
    ignore_index: int | None = None
    threshold: float = 0.5
    # generation (gan): how samples are judged; see mlcore/evaluation/generation_metrics.py
    num_samples: int = 2500
    quality_stds: float = 3.0  # high quality: within this many stds of the nearest mode
    min_mode_share: float = 0.01  # a mode is covered with this share of the good samples
    confidence: float = 0.9  # images: the judge classifier's top probability above this

    def __post_init__(self) -> None:
        check(0.0 < self.threshold < 1.0, "threshold", "must be in (0, 1)")
        check(self.num_samples >= 1, "num_samples", "must be >= 1")
        check(self.quality_stds > 0, "quality_stds", "must be > 0")
        check(0.0 <= self.min_mode_share < 1.0, "min_mode_share", "must be in [0, 1)")
        check(0.0 < self.confidence < 1.0, "confidence", "must be in (0, 1)")


@dataclass(frozen=True)
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    discriminator_optimizer: OptimizerConfig | None = None  # gan only
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    regularization: RegularizationConfig = field(default_factory=RegularizationConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        gan = self.model.name == "gan"
        check(
            gan or self.discriminator_optimizer is None,
            "discriminator_optimizer",
            f"only model.name gan has a discriminator (this model is {self.model.name})",
        )

    def to_dict(self) -> dict[str, Any]:
        tree = to_dict(self)
        if self.model.name != "gan":  # GAN-only keys stay out of every other run's config
            del tree["discriminator_optimizer"]
            for key in GAN_KEYS:
                del tree["model"][key]
        return tree

    def replace(self, **sections: Any) -> Config:
        return dataclasses.replace(self, **sections)
