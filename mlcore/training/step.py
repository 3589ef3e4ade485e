"""One optimization step: the unit that the loop (and DDP, the memory tracer) calls; a GAN
has its own (gan_step.py). zero_grad -> forward -> data loss + penalty -> backward -> clip
-> step."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from mlcore.config import RegularizationConfig
from mlcore.training.device import rank_flags, unwrap


def penalized_weights(model: nn.Module) -> list[torch.Tensor]:
    """The tensors that L1/L2 act on: weight matrices and kernels (dim > 1).

    Biases and batchnorm scales/shifts are left out, as is usual: they shift or rescale
    activations rather than weigh inputs, and penalizing them only hurts the fit.
    """
    return [p for p in model.parameters() if p.requires_grad and p.dim() > 1]


class NonFiniteLoss(ArithmeticError):
    """The loss became NaN or infinite; the trainer turns this into a failed run."""


class RankSignals:
    """Under DDP, what every rank must decide alike after a backward pass: whether any
    rank's loss was NaN/inf, and whether any was asked to stop. Carried as the gradient of
    the flags parameter of a DDP-wrapped network (device.RankFlags), so DDP's own gradient
    all-reduce delivers every rank's flags: no collective, and one host sync, of its own."""

    def __init__(self, flags: nn.Parameter):
        self.flags = flags
        # made once: no host-to-device copy on the hot path
        self._bit = {v: flags.new_full((1,), float(v)) for v in (False, True)}

    def backward(
        self, loss: torch.Tensor, backward: Callable[[torch.Tensor], None], stop: bool = False
    ) -> tuple[float, bool]:
        """Run `backward` on the loss with this rank's flags in it (every rank must join the
        all-reduce, even with a NaN loss), then read the loss and every rank's flags. A
        non-finite loss anywhere raises NonFiniteLoss on every rank, before any optimizer
        step: weights and checkpoints stay finite. Returns (loss, some rank asked to stop)."""
        flags = self.flags
        non_finite_here = (~torch.isfinite(loss.detach())).to(flags.dtype).view(1)
        mine = torch.cat([non_finite_here, self._bit[stop]])
        flags.grad = None  # not in any optimizer, so zero_grad leaves it: must not accumulate
        backward(loss + (flags * mine).sum())
        value, non_finite, stops = torch.cat([loss.detach().float().view(1), flags.grad]).tolist()
        if non_finite > 0:
            raise NonFiniteLoss(value if not math.isfinite(value) else "nan on another rank")
        return value, stops > 0


class SupervisedStep:
    """train_step(x, y) -> {"loss"} (+ "data_loss", "penalty" with L1/L2) as floats.

    The penalty is explicit, l1 * sum|w| + l2 * sum w^2, and added to the data loss, so a
    user sees in metrics.csv what each costs. `optimizer.weight_decay` is separate (PyTorch's).
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        reg: RegularizationConfig,
        device: torch.device,
        precision: str = "fp32",
        distributed: bool = False,
    ):
        self.model, self.loss_fn, self.optimizer, self.reg = model, loss_fn, optimizer, reg
        bare = unwrap(model)
        self.weights = penalized_weights(bare) if (reg.l1 or reg.l2) else []
        self.params = [p for p in bare.parameters() if p.requires_grad]
        # Under DDP: flags that ride on the gradient all-reduce (device.RankFlags).
        flags = rank_flags(model) if distributed else None
        self.signals = RankSignals(flags) if flags is not None else None
        self.stop_requested = False  # set by the trainer's signal handler
        self.stop_agreed = False  # some rank asked to stop: every rank stops after this step
        # amp: fp16 autocast with a loss scaler (fp16 gradients underflow without it);
        # bf16 has fp32's exponent range and needs no scaler.
        dtype = {"amp": torch.float16, "bf16": torch.bfloat16}.get(precision)
        self.autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else None
        self.scaler = torch.amp.GradScaler(device.type) if precision == "amp" else None
        self.inspect: Callable[[], None] | None = None  # called after backward, before step

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        """What the schedule drives."""
        return [self.optimizer]

    @property
    def columns(self) -> tuple[str, ...]:
        """The values it returns, logged as train/<name>; the first one goes on the bar."""
        return ("loss", "data_loss", "penalty") if self.weights else ("loss",)

    def state_dict(self) -> dict[str, Any]:
        # The optimizer and scaler keep their own checkpoint keys ("optimizer", "scaler"),
        # as in every checkpoint written before steps had state of their own.
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def penalty(self) -> torch.Tensor:
        total = torch.zeros((), device=self.params[0].device)
        for w in self.weights:
            if self.reg.l1:
                total = total + self.reg.l1 * w.abs().sum()
            if self.reg.l2:
                total = total + self.reg.l2 * w.pow(2).sum()
        return total

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        if self.autocast is None:  # fp32: no context to enter on the hot path
            data_loss = self.loss_fn(self.model(x), y)
        else:
            with self.autocast():
                out = self.model(x)
            data_loss = self.loss_fn(out.float(), y)  # the loss in fp32, outside autocast
        loss = data_loss
        penalty = None
        if self.weights:
            penalty = self.penalty()
            loss = data_loss + penalty
        if self.signals is not None:
            value, self.stop_agreed = self.signals.backward(
                loss, self._backward, self.stop_requested
            )
        else:
            # One host sync per step, whose value serves the NaN check, the progress bar and
            # the epoch mean. Checked before the step: the weights (and checkpoints) stay finite.
            value = loss.item()
            if not math.isfinite(value):
                raise NonFiniteLoss(value)
            self._backward(loss)
        if self.reg.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.params, self.reg.grad_clip)
        if self.inspect is not None:
            self.inspect()
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if penalty is None:
            return {"loss": value}
        return {"loss": value, "data_loss": data_loss.item(), "penalty": penalty.item()}

    def _backward(self, loss: torch.Tensor) -> None:
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)  # clip and inspect true gradients
        else:
            loss.backward()
