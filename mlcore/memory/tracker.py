"""Record every tensor storage that a training step allocates and frees, in order, tagged
with what it is (parameter, gradient, optimizer state, activation, input, temporary).

Built on PyTorch's own tracker, `torch.distributed._tools.mem_tracker.MemTracker` (a
TorchDispatchMode that sees every op's outputs, tags them by phase, and follows frees
through weak references), which works under FakeTensorMode. It is private API, so it is
imported here alone, guarded: `TRACKER_ERROR` says why tracing is unavailable, and the
estimate then falls back to formulas (marked approximate). What MemTracker lacks and this
subclass adds: the ordered timeline (the allocator model replays it), `.item()` on fake
tensors (the step checks its loss for NaN), and transients of `optimizer.step()` told
apart from the optimizer's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

# category names, as in DESIGN.md's gpu-mem JSON
CATEGORIES = ("parameters", "gradients", "optimizer_states", "activations", "inputs", "other")
_FROM_REFTYPE = {
    "Parameter": "parameters",
    "Buffer": "parameters",  # batchnorm running statistics live with the weights
    "Gradient": "gradients",
    "Optstate": "optimizer_states",
    "Activation": "activations",
    "Temp": "other",
    "Other": "inputs",  # only the data is registered from outside the step (see trace.py)
}
# ops that run on cuBLAS on a GPU (which then holds a workspace for the whole run)
BLAS_OPS = ("mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "_scaled_dot_product")


@dataclass(frozen=True)
class Event:
    """One change to device memory: `kind` is "alloc", "free", "retag" or "resize"."""

    kind: str
    key: int  # identifies the storage across its events
    nbytes: int
    category: str


try:
    from torch._subclasses.fake_tensor import FakeTensor
    from torch.distributed._tools.mem_tracker import MemTracker, _MemRefType, _UpdateType
    from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes

    TRACKER_ERROR: str | None = None
except ImportError as err:  # an older or trimmed PyTorch: formulas instead of a trace
    MemTracker = TorchDispatchMode = object  # type: ignore[assignment,misc]
    TRACKER_ERROR = f"torch {torch.__version__} has no MemTracker ({err})"


class TimelineTracker(MemTracker):  # type: ignore[misc,valid-type]
    """MemTracker that also keeps `events` (in order) and the names of the ops it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []
        self.ops: set[str] = set()  # in forward (and the optimizer step)
        self.backward_ops: set[str] = set()  # on autograd's own thread
        self._keys: dict[int, int] = {}  # id(winfo) -> key, stable while the storage lives
        self._next = 0

    def tag(self, tensor: torch.Tensor, category: str) -> None:
        """Register a tensor made outside the step (the data) under `category`."""
        reftype = {"inputs": _MemRefType.OTH, "parameters": _MemRefType.PARAM}[category]
        self._update_and_maybe_create_winfos(tensor, reftype)

    def key_of(self, tensor: torch.Tensor) -> int | None:
        """The event key of a tensor's storage, if it was tracked."""
        st = tensor.untyped_storage()
        winfo, _ = self._WINFO.get(st, (None, None))
        return None if winfo is None else self._keys.get(id(winfo))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        ops = self.backward_ops if self._mod_tracker.is_bw else self.ops
        ops.add(func.__name__.split(".")[0])
        if func is torch.ops.aten._local_scalar_dense.default and isinstance(args[0], FakeTensor):
            return _fake_item(args[0])
        return super().__torch_dispatch__(func, types, args, kwargs)

    # MemTracker snapshots every module before and after its forward and backward (deep
    # copies, per module, per call): the per-module view gpu-mem does not use, and most of
    # a trace's time. Kept: the grad hooks that tag gradients (installed once, on the
    # whole model, at its first forward) and ModTracker's forward/backward state.
    def _pre_fw_hook(self, module: Any, inputs: Any) -> None:
        if not self._hooked:
            self._hooked = True
            self._install_grad_hooks()

    def _install_grad_hooks(self) -> None:
        """MemTracker's gradient tagging, on the weights that train (a GAN's weight average
        and a frozen network take no hook)."""

        def tag(grad: torch.Tensor) -> None:
            self._update_and_maybe_create_winfos(grad, _MemRefType.GRAD)

        for p in self._root.parameters():
            if p.requires_grad and p not in self._param_to_grad_hook_handles:
                self._param_to_grad_hook_handles[p] = (
                    p.register_hook(tag),
                    p.register_post_accumulate_grad_hook(lambda q: tag(q.grad)),
                )

    def _post_fw_hook(self, module: Any, inputs: Any, outputs: Any) -> None:
        pass

    def _pre_bw_hook(self, module: Any, args: Any) -> None:
        pass

    def _post_bw_hook(self, module: Any, args: Any) -> None:
        pass

    def _update_peak_stats(self, peak_state: Any) -> None:
        pass  # peaks come from replaying `events` (replay.py)

    def watch(self, model: torch.nn.Module) -> None:
        """Track `model`'s parameters and buffers now, its gradients from its first forward."""
        self._root, self._hooked = model, False
        self.track_external(model)

    def _track(self, reftype: Any, t: torch.Tensor) -> None:
        # Outputs of ops inside optimizer.step() are transients (foreach intermediates) until
        # the step's post-hook re-tags the tensors that stay in optimizer.state.
        if reftype == _MemRefType.OPT:
            reftype = _MemRefType.TEMP
        super()._track(reftype, t)

    def _update_snap(self, u_type, winfo, old_mem_consumed=None, old_reftype=None):  # noqa: ANN001
        category = _FROM_REFTYPE[winfo.reftype.value]
        if u_type == _UpdateType.ADD:
            self._keys[id(winfo)] = self._next
            self._next += 1
            self.events.append(Event("alloc", self._keys[id(winfo)], winfo.mem_consumed, category))
        elif u_type == _UpdateType.DEL:
            key = self._keys.pop(id(winfo))
            self.events.append(Event("free", key, winfo.mem_consumed, category))
        elif u_type == _UpdateType.REF:
            self.events.append(Event("retag", self._keys[id(winfo)], 0, category))
        else:  # SIZE: storage.resize_()
            self.events.append(Event("resize", self._keys[id(winfo)], winfo.mem_consumed, category))
        super()._update_snap(u_type, winfo, old_mem_consumed, old_reftype)


class FakeItemMode(TorchDispatchMode):  # type: ignore[misc,valid-type]
    """`.item()` on fake tensors outside the tracker: some models call it while they
    initialize their weights (torchvision's ViT, through trunc_normal_)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        if func is torch.ops.aten._local_scalar_dense.default and isinstance(args[0], FakeTensor):
            return _fake_item(args[0])
        return func(*args, **(kwargs or {}))


def _fake_item(t: torch.Tensor) -> Any:
    """`.item()` of a fake tensor: its value where FakeTensorMode propagated a constant
    (an optimizer's step count), else 0 (a finite loss; GradScaler: no inf found)."""
    if getattr(t, "constant", None) is not None:
        with _disable_current_modes():
            return t.constant.item()
    if t.dtype == torch.bool:
        return False
    return 0.0 if t.is_floating_point() else 0
