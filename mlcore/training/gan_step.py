"""One GAN step per batch of real data: a discriminator update, then (every `d_steps`-th
call) a generator update and the EMA of the generator's weights.

Losses (Goodfellow et al., 2014; hinge: Lim & Ye, 2017, as in SN-GAN, Miyato et al., 2018),
with D(x) a logit:
  bce    D: softplus(-D(x)) + softplus(D(G(z)))   G: softplus(-D(G(z)))  (non-saturating)
  hinge  D: relu(1 - D(x)) + relu(1 + D(G(z)))    G: -D(G(z))
The step keeps the call contract of SupervisedStep: step(x, y) -> floats (y is ignored).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn
from torch.nn.functional import relu, softplus

from mlcore.models.gan import GAN
from mlcore.training.device import Placement, parallel, rank_flags
from mlcore.training.step import NonFiniteLoss, RankSignals


def d_loss_fn(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if kind == "hinge":
        return relu(1 - real).mean() + relu(1 + fake).mean()
    return softplus(-real).mean() + softplus(fake).mean()


def g_loss_fn(kind: str, fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean() if kind == "hinge" else softplus(-fake).mean()


class GanStep:
    """step(x, y) -> {d_loss, g_loss, d_real, d_fake} (d_real/d_fake: mean sigmoid(D)).

    On several devices each network is wrapped apart (device.parallel): the step calls G
    and D apart, never through the GAN's forward. Under DDP, rank r of W draws its latents
    as rows [r*n, (r+1)*n) of one draw of W*n from the RNG that every rank shares, so the
    ranks' fake batches differ and together are the batch that one process with W times
    the batch would draw; NaN and stop flags ride on DDP's gradient all-reduce as in
    SupervisedStep. amp and bf16 as in SupervisedStep: forward passes under autocast, the
    losses in fp32; amp scales each network's loss with a GradScaler of its own (the two
    networks' gradients overflow at different scales)."""

    columns = ("d_loss", "g_loss", "d_real", "d_fake")  # logged as train/<name>; [0] on the bar
    scaler = None  # the trainer's single-optimizer scaler; this step keeps one per network

    def __init__(
        self,
        model: GAN,
        g_optimizer: torch.optim.Optimizer,
        d_optimizer: torch.optim.Optimizer,
        loss: str = "bce",
        d_steps: int = 1,
        ema: float | None = None,
        grad_clip: float | None = None,
        placement: Placement | None = None,
        precision: str = "fp32",
    ):
        self.model, self.g_opt, self.d_opt = model, g_optimizer, d_optimizer
        self.loss, self.d_steps, self.ema, self.grad_clip = loss, d_steps, ema, grad_clip
        self.g_params = list(model.generator.parameters())
        self.d_params = list(model.discriminator.parameters())
        placement = placement or Placement(torch.device("cpu"), "single")
        self.rank, self.world = placement.rank, placement.world_size
        self.g_net = parallel(model.generator, placement)
        self.d_net = parallel(model.discriminator, placement)
        g_flags, d_flags = rank_flags(self.g_net), rank_flags(self.d_net)
        self.g_signals = RankSignals(g_flags) if g_flags is not None else None
        self.d_signals = RankSignals(d_flags) if d_flags is not None else None
        device = placement.device.type
        dtype = {"amp": torch.float16, "bf16": torch.bfloat16}.get(precision)
        self.autocast = (lambda: torch.autocast(device, dtype=dtype)) if dtype else nullcontext
        amp = precision == "amp"
        self.g_scaler = torch.amp.GradScaler(device) if amp else None
        self.d_scaler = torch.amp.GradScaler(device) if amp else None
        self.calls = 0  # steps taken; the generator steps when calls % d_steps == d_steps - 1
        self.g_loss = float("nan")  # the last generator loss, reported between its steps
        self.inspect: Callable[[], None] | None = None  # after the backward passes
        self.stop_requested = False  # set by the trainer's signal handler
        self.stop_agreed = False  # under DDP: some rank asked to stop, all stop after this step

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        """What the schedule drives: the generator's (its lr is logged), the discriminator's."""
        return [self.g_opt, self.d_opt]

    def _latent(self, n: int, device: torch.device) -> torch.Tensor:
        z = torch.randn(n * self.world, self.model.latent_dim, device=device)
        return z[self.rank * n : (self.rank + 1) * n] if self.world > 1 else z

    def _update(
        self, loss: torch.Tensor, opt: torch.optim.Optimizer, params: list,
        signals: RankSignals | None, scaler: torch.amp.GradScaler | None, stop: bool = False,
    ) -> float:  # fmt: skip
        """zero_grad, backward and clipping; the NaN check before any optimizer step."""
        opt.zero_grad(set_to_none=True)
        if scaler is not None:

            def backward(total: torch.Tensor) -> None:
                scaler.scale(total).backward()
        else:
            backward = torch.Tensor.backward
        if signals is not None:  # DDP: backward first, every rank joins the all-reduce
            value, stops = signals.backward(loss, backward, stop)
            self.stop_agreed = self.stop_agreed or stops
        else:
            value = loss.item()  # one sync per update: NaN check, progress bar, epoch mean
            if not math.isfinite(value):
                raise NonFiniteLoss(value)
            backward(loss)
        if scaler is not None:
            scaler.unscale_(opt)  # clip and inspect true gradients
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(params, self.grad_clip)
        return value

    @staticmethod
    def _optimizer_step(opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
        if scaler is None:
            opt.step()
        else:  # skips the step when the scaled gradients overflowed, then adapts the scale
            scaler.step(opt)
            scaler.update()

    def _d_phase(self, x: torch.Tensor) -> dict[str, float]:
        pack = self.model.packed
        with torch.no_grad(), self.autocast():
            fake = self.g_net(self._latent(len(x), x.device))  # no graph into G: D's phase
        with self.autocast():
            real_out, fake_out = self.d_net(pack(x)), self.d_net(pack(fake))
        real_out, fake_out = real_out.float(), fake_out.float()  # the loss in fp32
        loss = d_loss_fn(self.loss, real_out, fake_out)
        stop = self.stop_requested
        value = self._update(loss, self.d_opt, self.d_params, self.d_signals, self.d_scaler, stop)
        self._optimizer_step(self.d_opt, self.d_scaler)
        return {
            "d_loss": value,
            "d_real": torch.sigmoid(real_out.detach()).mean().item(),
            "d_fake": torch.sigmoid(fake_out.detach()).mean().item(),
        }

    def _g_phase(self, n: int, device: torch.device) -> None:
        d = self.model.discriminator
        # D's parameters are frozen for this backward: its gradients stay those of its own
        # phase (what grad norms report), and no work is spent on gradients never used.
        # D is called bare (not through its DDP wrapper): no gradient of its to all-reduce.
        d.requires_grad_(False)
        try:
            with self.autocast():
                out = self.model.judge(self.g_net(self._latent(n, device)))
            loss = g_loss_fn(self.loss, out.float())
            scaler = self.g_scaler
            self.g_loss = self._update(loss, self.g_opt, self.g_params, self.g_signals, scaler)
        finally:
            d.requires_grad_(True)
        if self.inspect is not None:
            self.inspect()
        self._optimizer_step(self.g_opt, self.g_scaler)
        if self.model.ema is not None:
            ema_update(self.model.ema, self.model.generator, self.ema)

    def __call__(self, x: torch.Tensor, y: Any = None) -> dict[str, float]:
        self.stop_agreed = False
        out = self._d_phase(x)
        if self.calls % self.d_steps == self.d_steps - 1:
            self._g_phase(len(x), x.device)
        elif self.inspect is not None:
            self.inspect()
        self.calls += 1
        return {**out, "g_loss": self.g_loss}

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs beyond the model (EMA included) and the G optimizer."""
        state = {
            "discriminator_optimizer": self.d_opt.state_dict(),
            "calls": self.calls,
            "g_loss": self.g_loss,
        }
        if self.g_scaler is not None:
            state["scalers"] = [self.g_scaler.state_dict(), self.d_scaler.state_dict()]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_opt.load_state_dict(state["discriminator_optimizer"])
        self.calls, self.g_loss = state["calls"], state["g_loss"]
        if self.g_scaler is not None and "scalers" in state:
            self.g_scaler.load_state_dict(state["scalers"][0])
            self.d_scaler.load_state_dict(state["scalers"][1])


@torch.no_grad()
def ema_update(ema: nn.Module, net: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * net for weights; buffers (batchnorm's running
    statistics) are copied, since averaging them would describe no network."""
    for e, p in zip(ema.parameters(), net.parameters()):
        e.lerp_(p, 1.0 - decay)
    for e, b in zip(ema.buffers(), net.buffers()):
        e.copy_(b)
