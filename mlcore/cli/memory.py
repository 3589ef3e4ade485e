"""`mlcore gpu-mem`: training memory per device, traced on fake tensors (no GPU needed)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from mlcore.cli.common import JsonOption, SetOption, show
from mlcore.errors import MlcoreError
from mlcore.memory.sizes import DEFAULT_CONTEXT_MB


class Strategy(str, Enum):
    single = "single"
    dp = "dp"
    ddp = "ddp"


class Precision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"
    amp = "amp"


def gpu_mem(
    config: Annotated[Path, typer.Argument(help="YAML config file.")],
    set_: SetOption = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Batch (per process under ddp, split under dp)."),
    ] = None,
    devices: Annotated[
        int | None, typer.Option("--devices", min=1, help="GPUs (dp, ddp); default 1 or 2.")
    ] = None,
    strategy: Annotated[
        Strategy | None, typer.Option("--strategy", help="Default: the config's, else single.")
    ] = None,
    precision: Annotated[
        Precision | None,
        typer.Option(
            "--precision",
            help="Default: trainer.precision. fp16: a model in half precision throughout "
            "(what such a run needs; mlcore's trainer itself trains fp32, amp or bf16).",
        ),
    ] = None,
    gpu_memory: Annotated[
        str | None,
        typer.Option(
            "--gpu-memory",
            metavar="SIZE",
            help="24GiB, 24GB, 24000MiB, bytes or a GPU name (A100-80GB...): find the "
            "largest batch that fits.",
        ),
    ] = None,
    context_mb: Annotated[
        int,
        typer.Option(
            "--context-mb", min=0, help="CUDA context allowance in MiB (measured: 702 on an H200)."
        ),
    ] = DEFAULT_CONTEXT_MB,
    as_json: JsonOption = False,
) -> None:
    """Estimate the GPU memory that training a config needs, per device, by tracing mlcore's
    own training step on fake tensors (no GPU needed)."""
    from mlcore.config import load_config
    from mlcore.memory.sizes import parse_size

    cfg = load_config(config, set_ or [])
    capacity = parse_size(gpu_memory) if gpu_memory is not None else None
    try:
        req = _memory_request(cfg, batch_size, devices, strategy, precision, context_mb)
        from mlcore.memory.report import gpu_mem_report

        report = gpu_mem_report(cfg, req, capacity)
    except MlcoreError as err:
        raise MlcoreError(f"{config}: {err}") from None
    show(report, as_json, "mlcore.memory.table", "render_gpu_mem")


def _memory_request(cfg: Any, batch_size, devices, strategy, precision, context_mb) -> Any:
    """The flags over the config's trainer section; what training would refuse, refused."""
    from mlcore.memory.estimate import Request

    t = cfg.trainer
    chosen = strategy.value if strategy else (t.strategy if t.strategy != "auto" else "single")
    count = devices or (t.devices if t.devices != "auto" else (1 if chosen == "single" else 2))
    source = "--devices" if devices else "trainer.devices"
    if chosen == "single" and count != 1:
        raise MlcoreError(
            f"{source} {count}: several devices need --strategy dp or ddp; single uses one"
        )
    batch = batch_size or cfg.data.batch_size
    if chosen == "dp" and batch < count:
        raise MlcoreError(f"--batch-size {batch}: dp splits a batch over {count} devices")
    chosen_precision = precision.value if precision else t.precision
    if cfg.model.name == "gan" and chosen == "dp":
        raise MlcoreError(
            "--strategy dp: a gan trains on one device or under ddp (--strategy single or "
            "ddp); dp is not supported for it"
        )
    return Request(
        batch_size=batch,
        precision=chosen_precision,
        strategy=chosen,
        devices=count,
        context_bytes=context_mb << 20,
        deterministic=t.deterministic,
    )
