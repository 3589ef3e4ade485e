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
    """The run's name: its folder under the runs root (`runs/<name>/<time>`); a plain folder
    name."""
    seed: int = 0
    """Seeds everything random: the split, the initial weights, the batch order, dropout."""

    def __post_init__(self) -> None:
        # the name becomes a folder under the runs root: one plain path component
        ok = bool(self.name) and self.name not in (".", "..") and not set("/\\") & set(self.name)
        check(ok, "name", f"must be a plain folder name (no '/', not '..'), got {self.name!r}")
        check(0 <= self.seed < 2**63, "seed", f"must be an integer >= 0, got {self.seed}")


@dataclass(frozen=True)
class SplitConfig:
    train: float = 0.7
    """Fraction of the samples in the training split (> 0)."""
    val: float = 0.15
    """Fraction in the validation split (> 0: validation picks best.pt and drives early
    stopping)."""
    test: float = 0.15
    """Fraction in the test split (0: no test report); the three fractions sum to 1."""

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
    """The data set: generated, shipped with scikit-learn, torchvision files, an image folder or
    a CSV file."""
    root: str | None = None
    """The folder of file-based data sets (torchvision files, `image_folder`); null: `data`."""
    download: bool = False
    """Let torchvision fetch `mnist`, `fashion_mnist` or `cifar10` into `root` (off: nothing is
    downloaded)."""
    path: str | None = None
    """`csv`: the CSV file to read."""
    target: str | None = None
    """`csv`: the name of the target column; every other column is a feature, numeric or
    categorical (rows without a target are dropped)."""
    task: Literal["auto", "classification", "regression"] = "auto"
    """`csv`: classification or regression; auto infers it from the target column."""
    delimiter: str | None = None
    """`csv`: the cell delimiter, one character, `tab` or `whitespace`; null: sniffed from the
    first lines (`,` `;` tab, else whitespace)."""
    categorical: list[str] = ()
    """`csv`: columns of numbers to one-hot encode as categories (text columns always are)."""
    drop: list[str] = ()
    """`csv`: columns to leave out (an ID-like column, all values distinct, is left out
    unlisted)."""
    na_values: list[str | int | float] = ()
    """`csv`: more cell values that mean missing, beside `NA`, `NaN`, `?` and an empty cell."""
    missing: Literal["fill", "drop"] = "fill"
    """`csv`: fill: a gap gets the training split's median (numbers) or a `missing` category
    (text), and its column a 0/1 `<col>_missing` beside it; drop: rows with a gap are dropped."""
    n_samples: int | None = None
    """Generated data sets: how many samples to draw; null: the data set's own default."""
    noise: float | None = None
    """Generated data sets: the noise (a mixture's per-mode std); null: the data set's own
    default."""
    w: list[float] | None = None
    """`line`: the true weights of y = w·x + b + noise; null: [2.0]."""
    b: float | None = None
    """`line`: the true bias; null: 0.5."""
    split: SplitConfig = field(default_factory=SplitConfig)
    """How the samples are split into train / val / test (seeded by run.seed)."""
    stratify: bool = True
    """Keep each class's share the same in every split (each class within one sample)."""
    normalize: bool = True
    """Standardize with the training split's mean and std (stored in the checkpoint for eval)."""
    standardize_target: bool = True
    """Regression: train on the target standardized with the training split's mean and std
    (stored in the checkpoint); reports, plots and predictions stay in the target's units."""
    dedupe: bool = False
    """Drop validation and test samples that are exact copies of a training sample."""
    # deliberate changes for studies: mlcore/data/variants.py
    shift: float | list[float] = 0.0
    """Study variant: added to every feature (a number) or to each (a list); shows only with
    normalize: false."""
    class_fraction: list[float] | None = None
    """Study variant: per class, the fraction of its samples kept in every split (an imbalanced
    variant)."""
    contaminate: float = 0.0
    """Study variant: the fraction of the test split replaced by exact copies of training
    samples."""
    batch_size: int = 64
    """Training batch size (per process under ddp)."""
    # inference keeps no activations for backward, so larger batches cost little memory and
    # save per-batch overhead
    eval_batch_size: int | None = None
    """Batch size of validation, the test report and `mlcore eval`; null: max(batch_size, 256).
    Changes no reported number."""
    num_workers: int = 0
    """Worker processes that load batches of file-based data sets (0: in the training process)."""

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
        ok = self.delimiter is None or len(self.delimiter) == 1
        ok = ok or self.delimiter in ("tab", "whitespace")
        check(ok, "delimiter", "must be one character, tab or whitespace, or null to sniff it")


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
    """Vector data (MLP generator): the hidden layers' widths."""
    channels: list[int] = (64, 32)
    """Images (DCGAN-style generator): the transposed convolutions' channels, coarse to fine;
    each doubles the side."""
    activation: str = "relu"
    """The generator's activation."""
    batchnorm: bool = False
    """Batchnorm after each of the generator's hidden layers."""
    dropout: float = 0.0
    """Dropout probability in the generator's hidden layers, in [0, 1)."""

    def __post_init__(self) -> None:
        _check_net(self)


@dataclass(frozen=True)
class DiscriminatorConfig:
    hidden: list[int] = (128, 128)
    """Vector data (MLP discriminator): the hidden layers' widths."""
    channels: list[int] = (32, 64)
    """Images (DCGAN-style discriminator): the strided convolutions' channels."""
    activation: str = "leaky_relu"
    """The discriminator's activation."""
    batchnorm: bool = False
    """Batchnorm after the discriminator's hidden layers (never on the input layer of the conv
    one)."""
    dropout: float = 0.0
    """Dropout probability in the discriminator's hidden layers, in [0, 1)."""
    spectral_norm: bool = False
    """Wrap the discriminator's layers in spectral normalization."""

    def __post_init__(self) -> None:
        _check_net(self)


# GAN-only model keys, null for every other model; their defaults for a gan.
GAN_DEFAULTS = {"latent_dim": 8, "d_steps": 1, "loss": "bce", "pack": 1}
GAN_LOSSES = ("bce", "hinge")
GAN_KEYS = ("latent_dim", "generator", "discriminator", "d_steps", "loss", "ema", "pack")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mlp"
    """The model family: linear, mlp, cnn, segnet, torchvision or gan."""
    channels: list[int] = (32, 64)
    """cnn and segnet: the channels of each convolution block."""
    hidden: list[int] = (64,)
    """mlp: the hidden layers' widths; cnn: those of the head after the convolutions."""
    activation: str = "relu"
    """relu, sigmoid, tanh, leaky_relu or gelu."""
    batchnorm: bool = False
    """Batchnorm after each hidden layer (the layer before it drops its bias: batchnorm's shift
    replaces it)."""
    dropout: float = 0.0
    """Dropout probability after each hidden layer, in [0, 1)."""
    bias: bool = True
    """Whether the layers have a bias (false: every layer passes through the origin)."""
    arch: str | None = None
    """torchvision: a `torchvision.models` classification builder, e.g. resnet18 (random
    weights, nothing downloaded)."""
    latent_dim: int | None = None
    """gan: the size of the generator's random input."""
    generator: GeneratorConfig | None = None
    """gan: the generator's network (required for a gan; `{}` takes the defaults)."""
    discriminator: DiscriminatorConfig | None = None
    """gan: the discriminator's network (required for a gan; `{}` takes the defaults)."""
    d_steps: int | None = None
    """gan: discriminator steps per generator step (each batch is one discriminator step)."""
    loss: str | None = None
    """gan: bce (non-saturating) or hinge."""
    ema: float | None = None
    """gan: decay of a moving average of the generator's weights (e.g. 0.99), which eval and
    sample draw from; null: none."""
    pack: int | None = None
    """gan: how many samples the discriminator judges at once, concatenated (PacGAN)."""

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
    """sgd, rmsprop, adam or adamw."""
    lr: float = 0.001
    """The learning rate (> 0)."""
    momentum: float = 0.0
    """sgd and rmsprop: momentum, in [0, 1)."""
    nesterov: bool = False
    """sgd: Nesterov momentum (needs momentum > 0)."""
    betas: list[float] = (0.9, 0.999)
    """adam and adamw: decay rates of the gradient's running mean and of its square's."""
    alpha: float = 0.99
    """rmsprop: decay rate of the squared gradient's running mean."""
    eps: float = 1e-8
    """adam, adamw and rmsprop: added to the denominator so that it is never 0."""
    weight_decay: float = 0.0
    """PyTorch's own weight decay (decoupled for adamw); regularization.l2 is the loss penalty."""

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
    """none, step, cosine, plateau or onecycle."""
    step_size: int = 10
    """step: multiply the learning rate by gamma every step_size epochs."""
    gamma: float = 0.1
    """step: the factor applied every step_size epochs, in (0, 1]."""
    factor: float = 0.1
    """plateau: multiply the learning rate by factor when the monitor stalls, in (0, 1)."""
    patience: int = 5
    """plateau: epochs without improving the checkpoint monitor before the learning rate drops."""
    min_lr: float = 0.0
    """cosine: the learning rate at the end of the run; plateau: the floor."""
    max_lr: float | None = None
    """onecycle (stepped per batch): the peak learning rate; null: 10 x optimizer.lr."""

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
    """Adds l1·Σ|w| over weight matrices and kernels (not biases or batchnorm) to the loss."""
    l2: float = 0.0
    """Adds l2·Σw² over the same weights to the loss."""
    grad_clip: float | None = None
    """Clip the global gradient norm to this value; null: no clipping."""

    def __post_init__(self) -> None:
        check(self.l1 >= 0, "l1", "must be >= 0")
        check(self.l2 >= 0, "l2", "must be >= 0")
        check(self.grad_clip is None or self.grad_clip > 0, "grad_clip", "must be > 0 or null")


@dataclass(frozen=True)
class EarlyStoppingConfig:
    monitor: str = "val/loss"
    """The logged value watched: train/loss, val/loss, or a validation metric such as
    val/accuracy."""
    mode: Mode | None = None
    """min or max; null: max for accuracy, F1, mIoU, pixel accuracy, R² and GAN scores, min for
    losses, errors and KL."""
    patience: int | None = None
    """Stop after this many epochs without an improvement; null: never stop early."""
    min_delta: float = 0.0
    """The smallest change of the monitor that counts as an improvement."""

    def __post_init__(self) -> None:
        _infer_mode(self)
        check(self.patience is None or self.patience >= 1, "patience", "must be >= 1 or null")
        check(self.min_delta >= 0, "min_delta", "must be >= 0")


@dataclass(frozen=True)
class CheckpointConfig:
    monitor: str = "val/loss"
    """The logged value whose best epoch becomes best.pt."""
    mode: Mode | None = None
    """min or max; null: follows the monitor, as for early stopping."""

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
    """How many epochs to train (>= 1)."""
    device: str = "auto"
    """auto, cpu, cuda, cuda:N or mps."""
    strategy: Literal["auto", "single", "dp", "ddp"] = "auto"
    """auto (ddp when torchrun starts several processes, else single), single, dp or ddp."""
    devices: int | Literal["auto"] = "auto"
    """dp and ddp: how many devices (processes); auto: every visible GPU, or the processes
    torchrun started."""
    precision: Literal["fp32", "amp", "bf16"] = "fp32"
    """fp32, amp (fp16 autocast with loss scaling, CUDA only) or bf16."""
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    """When to stop before `epochs`."""
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    """Which epoch's weights become best.pt."""
    deterministic: bool = True
    """Seed everything from run.seed and use PyTorch's deterministic algorithms."""
    log_grad_norms: bool = True
    """Log each layer's gradient norm on each epoch's last step (metrics.csv `grad/<layer>`,
    plots/grad_norms.png)."""
    # off by default, so that an epoch costs no more than without it
    log_model_stats: bool = False
    """Add weights/sparsity, weights/norm and val/dead_relu to metrics.csv each epoch (eval
    measures them regardless)."""
    sample_every: int = 10
    """gan: write plots/samples_epoch_NNN.png every this many epochs; 0: never."""
    threads: int | Literal["auto"] = "auto"
    """CPU threads of one process; auto: PyTorch's choice (OMP_NUM_THREADS, else the cores).
    Results repeat bit for bit only at the same count."""

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
    """Read by no command today: training reports on the test split, and `mlcore eval --split`
    picks eval's."""
    positive_class: int | None = None
    """Two classes: the index of the positive class of the binary precision / recall / F1."""
    ignore_index: int | None = None
    """Segmentation: the label of unlabeled pixels, left out of every count."""
    threshold: float = 0.5
    """A classifier with one output logit: predict the positive class when sigmoid(logit) >=
    threshold."""
    # generation (gan): how samples are judged; see mlcore/evaluation/generation_metrics.py
    num_samples: int = 2500
    """gan: how many samples each evaluation draws (from fixed latents)."""
    quality_stds: float = 3.0
    """gan, 2-D mixtures: a sample is high quality within this many stds of its nearest mode."""
    min_mode_share: float = 0.01
    """gan, 2-D mixtures: a mode is covered when it holds this share of the high-quality samples."""
    confidence: float = 0.9
    """gan, images: a sample counts as confident when the judge classifier's top probability is
    above this."""

    def __post_init__(self) -> None:
        check(0.0 < self.threshold < 1.0, "threshold", "must be in (0, 1)")
        check(self.num_samples >= 1, "num_samples", "must be >= 1")
        check(self.quality_stds > 0, "quality_stds", "must be > 0")
        check(0.0 <= self.min_mode_share < 1.0, "min_mode_share", "must be in [0, 1)")
        check(0.0 < self.confidence < 1.0, "confidence", "must be in (0, 1)")


@dataclass(frozen=True)
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    """The run's name and seed."""
    data: DataConfig = field(default_factory=DataConfig)
    """The data set, its split, normalization and batches."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The network."""
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    """The optimizer (a gan's generator's)."""
    discriminator_optimizer: OptimizerConfig | None = None
    """gan only: the discriminator's optimizer, with optimizer's keys."""
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    """The learning-rate schedule."""
    regularization: RegularizationConfig = field(default_factory=RegularizationConfig)
    """L1 / L2 penalties and gradient clipping."""
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    """The loop: epochs, device, strategy, precision, early stopping, checkpoints, logging."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """How reports are computed."""

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
