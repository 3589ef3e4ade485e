"""Config keys that are valid but do nothing for this run: say so instead of ignoring them.

A user who sets `optimizer.momentum: 0.9` with Adam, or `data.noise` on the real digits,
believes it changed something; a warning at the start of training says it did not.
"""

from __future__ import annotations

from mlcore.config import Config, DataConfig, EvalConfig, ModelConfig, TrainerConfig

GENERATED = (
    "line", "moons", "circles", "spirals", "gaussian_ring", "gaussian_grid", "digit_seg"
)  # fmt: skip
FROM_FILES = ("mnist", "fashion_mnist", "cifar10", "image_folder")
# data keys -> the datasets that read them
DATA_KEYS = {
    "n_samples": GENERATED,
    "noise": GENERATED,
    "w": ("line",),
    "b": ("line",),
    "root": FROM_FILES,
    "download": ("mnist", "fashion_mnist", "cifar10"),
    "path": ("csv",),
    "target": ("csv",),
}
DEFAULTS = DataConfig()
# the layers of a torchvision arch are fixed by torchvision: mlcore's own model keys do nothing
MODEL_KEYS = ("channels", "hidden", "activation", "batchnorm", "dropout", "bias")


def unused_keys(cfg: Config, task: str) -> list[str]:
    """One line per key that is set away from its default but has no effect here."""
    found = []
    for key, readers in DATA_KEYS.items():
        if getattr(cfg.data, key) != getattr(DEFAULTS, key) and cfg.data.name not in readers:
            found.append(
                f"data.{key} has no effect on {cfg.data.name} (only on {', '.join(readers)})"
            )
    shift = cfg.data.shift if isinstance(cfg.data.shift, list | tuple) else (cfg.data.shift,)
    if any(shift) and cfg.data.normalize:
        found.append(
            "data.shift has no effect with data.normalize: true (standardization fitted on "
            "train takes the offset out again); set data.normalize: false"
        )
    if cfg.data.name in ("mnist", "fashion_mnist", "cifar10") and (
        cfg.data.split.test != DEFAULTS.split.test
    ):
        found.append(
            f"data.split.test has no effect on {cfg.data.name}: its official test set is the "
            "test split (validation is carved from the training set by train : val)"
        )
    if not cfg.data.standardize_target and task != "regression":
        found.append("data.standardize_target has no effect outside regression")
    if cfg.data.task != "auto" and cfg.data.name != "csv":
        found.append(f"data.task has no effect on {cfg.data.name} (only on csv)")
    found += _unused_model_keys(cfg)
    opt = cfg.optimizer
    if opt.momentum and opt.name in ("adam", "adamw"):
        found.append(f"optimizer.momentum has no effect on {opt.name} (its momentum is betas[0])")
    if cfg.eval.ignore_index is not None and task != "segmentation":
        found.append("eval.ignore_index has no effect outside segmentation")
    if cfg.eval.threshold != 0.5 and task != "classification":
        found.append("eval.threshold has no effect outside classification")
    return found + _gan_unused(cfg, task)


GENERATION_EVAL = ("num_samples", "quality_stds", "min_mode_share", "confidence")


def _gan_unused(cfg: Config, task: str) -> list[str]:
    """GAN-only keys on another model, and keys a GAN does not read."""
    eval_defaults, found = EvalConfig(), []
    for key in GENERATION_EVAL:
        if getattr(cfg.eval, key) != getattr(eval_defaults, key) and task != "generation":
            found.append(f"eval.{key} has no effect outside generation (a gan)")
    if cfg.trainer.sample_every != TrainerConfig().sample_every and task != "generation":
        found.append("trainer.sample_every has no effect outside generation (a gan)")
    if task != "generation":
        return found
    if cfg.data.eval_batch_size is not None:  # a GAN validates on samples, not on batches
        found.append(
            "data.eval_batch_size has no effect on a gan (it validates on eval.num_samples "
            "generated samples)"
        )
    for key in ("l1", "l2"):
        if getattr(cfg.regularization, key):
            found.append(f"regularization.{key} has no effect on a gan")
    model, defaults = cfg.model, ModelConfig()
    for key in ("channels", "hidden", "activation", "batchnorm", "dropout", "bias"):
        if getattr(model, key) != getattr(defaults, key):
            found.append(
                f"model.{key} has no effect on a gan (set it in model.generator or "
                "model.discriminator)"
            )
    image = cfg.data.name not in ("gaussian_ring", "gaussian_grid")
    unread = "hidden" if image else "channels"
    for net in ("generator", "discriminator"):
        section = getattr(model, net)
        if getattr(section, unread) != getattr(type(section)(), unread):
            kind = "an image" if image else "a vector"
            found.append(f"model.{net}.{unread} has no effect on {kind} gan")
    return found


def _unused_model_keys(cfg: Config) -> list[str]:
    if cfg.model.name != "torchvision":
        return []
    default = ModelConfig(name="torchvision", arch=cfg.model.arch)
    return [
        f"model.{key} has no effect on torchvision (model.arch {cfg.model.arch} fixes the layers)"
        for key in MODEL_KEYS
        if getattr(cfg.model, key) != getattr(default, key)
    ]
