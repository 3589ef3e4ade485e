"""`--gpu-memory` values: a size with a unit, a byte count, or a GPU's name; and sizes
printed the way GPU tools print them (binary units)."""

from __future__ import annotations

import re

from mlcore.errors import MlcoreError

GIB = 1 << 30
MIB = 1 << 20
# The CUDA context, cuDNN/cuBLAS handles and lazily loaded kernels: device memory outside
# PyTorch's allocator. 702 MiB measured after a CNN training step on an H200 (torch 2.11,
# CUDA 13; benchmarks/gpu_mem_accuracy.py); older stacks and smaller cards use less.
DEFAULT_CONTEXT_MB = 700
# Total memory as nvidia-smi reports it for each card (MiB), a little under the datasheet's
# round number on some cards (an H100 80GB shows 81559 MiB).
GPUS = {
    "T4": 15360 * MIB,
    "V100-16GB": 16384 * MIB,
    "V100-32GB": 32768 * MIB,
    "RTX-3090": 24576 * MIB,
    "RTX-4090": 24564 * MIB,
    "A10": 23028 * MIB,
    "L4": 23034 * MIB,
    "A100-40GB": 40960 * MIB,
    "A100-80GB": 81920 * MIB,
    "H100-80GB": 81559 * MIB,
    "H200": 143771 * MIB,
}
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,  # bare K/M/G/T: binary, as `free -h`, docker and nvidia-smi's MiB mean it
    "m": MIB,
    "g": GIB,
    "t": 1 << 40,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": MIB,
    "gib": GIB,
    "tib": 1 << 40,
}
FORMS = (
    "24GiB or 24G (binary), 24GB (decimal: 22.35 GiB), 24000MiB, a byte count, or a GPU "
    "name (" + ", ".join(GPUS) + ")"
)
# names that people type for a card with one memory size; A100 and V100 come in two
ALIASES = {"h100": "H100-80GB", "h200": "H200", "rtx4090": "RTX-4090", "rtx3090": "RTX-3090"}


def _gpu(text: str) -> int | None:
    """A GPU name, matched without case, spaces or dashes ("rtx 4090", "H100")."""
    key = re.sub(r"[\s_-]", "", text.lower())
    named = {re.sub(r"[\s_-]", "", name.lower()): size for name, size in GPUS.items()}
    if key in named:
        return named[key]
    if key in ALIASES:
        return GPUS[ALIASES[key]]
    if key in ("a100", "v100"):
        sizes = [name for name in GPUS if name.lower().startswith(key)]
        raise MlcoreError(
            f"--gpu-memory: {text!r} comes in two sizes; name one: {', '.join(sizes)}"
        )
    return None


def parse_size(text: str) -> int:
    """Bytes in `text`; an MlcoreError naming the accepted forms otherwise."""
    gpu = _gpu(text)
    if gpu is not None:
        return gpu
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise MlcoreError(f"--gpu-memory: cannot read {text!r}; use {FORMS}")
    value = float(match.group(1)) * _UNITS.get(unit, 1)
    if value < 1:
        raise MlcoreError(f"--gpu-memory: {text!r} is no memory at all; use {FORMS}")
    return int(value)


def human(nbytes: float) -> str:
    """1536 -> '1.50 KiB'; binary units, as torch.cuda.memory_summary and nvidia-smi."""
    sign = "-" if nbytes < 0 else ""
    value = abs(float(nbytes))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{sign}{value:.0f} {unit}" if unit == "B" else f"{sign}{value:.2f} {unit}"
        value /= 1024
    return f"{sign}{value:.2f} TiB"
