"""The training loop, one for every model, phase schedule and device.

:func:`fit` trains a model through a sequence of :class:`~studylib.config.Phase` s with RMSProp
and a step learning-rate schedule, evaluates on the test set after every epoch, checkpoints
after every epoch, and returns the history. What is specific to a task (the loss, augmentation,
evaluation) comes from a :class:`Task`. On CUDA the step runs under bf16 autocast; on the CPU
in float32. The same code runs both.

Freezing (ACNN's phases) is real: a frozen parameter has ``requires_grad=False``, so it gets
no gradient, and it is left out of the phase's optimizer, so it has no optimizer state. The
BatchNorm layers of a frozen part are kept in eval mode, so their running statistics stay as
they were trained; otherwise a phase that "freezes" the heatmap network would still shift its
normalisation while the masks learn.

A run is resumable: the checkpoint holds the model, the optimizer, the position in the schedule,
the history and every random state, so a run killed at any moment and started again ends with
the same numbers as one that was never interrupted (on the CPU, with deterministic settings).
It is written at the end of every phase and, in between, at the end of the first epoch after
``checkpoint_every_s`` seconds (on the CPU by default every epoch; on CUDA, where an epoch takes
seconds and a paper-size checkpoint is 100+ MB, every few minutes). A checkpoint is read on the
CPU and moved from there, so a run resumes on any device.

The training step (:func:`train_step`, which :mod:`studylib.bench` times too) reads nothing back
from the device: a CUDA step is queued without waiting for the GPU. Its loss, the squared
gradient norms and a finite flag stay on the device; the loop reads the flags every
``check_every`` steps and at the end of each epoch (one read for all of them), and the norms
once per epoch. A non-finite loss or gradient stops the run there, naming the first bad step;
no checkpoint is written after it, so the last good one stays. On the CPU the flags are read
after every step (a read there costs nothing), and the numbers are bit for bit the same as
with a read per step.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm  # the text bar: tqdm.auto warns in kernels without ipywidgets

from studylib import distributed, results
from studylib.config import Phase
from studylib.data.dataset import KeypointSet
from studylib.io import atomic_path

CHECKPOINT = "checkpoint.pt"


class NonFiniteLossError(FloatingPointError):
    """The loss or its gradient became NaN or infinite; the run stops at once and its last good
    checkpoint (the end of the last finished epoch) stays."""


class Task(Protocol):
    """What the loop needs to know about a task (pose heatmaps, face landmarks)."""

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> torch.Tensor:
        """Augment the batch (uint8 images, joints, valid on the device) and return the loss."""

    def evaluate(
        self, model: nn.Module, data: KeypointSet, device: torch.device, final: bool = True
    ) -> tuple[dict, pd.DataFrame]:
        """Scalar metrics and per-sample errors on ``data``; ``final=False`` is the cheaper
        per-epoch check for the learning curves (e.g. without test-time flipping)."""


@dataclass
class FitResult:
    history: pd.DataFrame
    metrics: dict[str, Any]
    per_sample: pd.DataFrame
    wall_time_s: float
    train_images: int
    device: torch.device


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" is CUDA when available, else the CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch sees no CUDA device")
    return device


def process_device(name: str = "auto") -> torch.device:
    """The device of this process: :func:`resolve_device`, made specific to the GPU that
    :func:`studylib.distributed.setup` gave this process when several share a machine."""
    device = resolve_device(name)
    return torch.device("cuda", torch.cuda.current_device()) if device.type == "cuda" else device


def configure_device(device: torch.device) -> None:
    """Fast, reproducible defaults: cuDNN autotuning and TF32 on CUDA, deterministic CPU ops."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


@contextmanager
def flush_denormals() -> Iterator[None]:
    """Treat subnormal floats as zero on the CPU inside the block, and restore the previous mode.

    Gates and occlusion weights near 0 make subnormal floats, which the CPU handles in a slow
    path: the face models' convolutions slowed by an order of magnitude with them. The mode is
    global processor state, so it is put back afterwards: left on, it breaks code that needs
    IEEE-754 subnormals (e.g. Hypothesis's float strategies).
    """
    tiny = torch.tensor([1e-310], dtype=torch.float64)
    was_on = bool((tiny * 1.0 == 0).item())
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was_on)


def to_device(data: KeypointSet, device: torch.device) -> dict[str, torch.Tensor]:
    """The arrays training slices, as tensors on ``device`` (images stay uint8, NHWC)."""
    return {
        "images": torch.from_numpy(data.images).to(device),
        "joints": torch.from_numpy(data.joints.astype(np.float32)).to(device),
        "valid": torch.from_numpy(data.valid).to(device),
    }


def batch_indices(
    n: int,
    batch_size: int,
    generator: torch.Generator,
    rank: int = 0,
    world_size: int = 1,
    device: torch.device | None = None,
) -> Iterator[torch.Tensor]:
    """A shuffled epoch of full batches (the last partial batch is dropped, as BatchNorm wants).

    With several processes, every process draws the same permutation and takes its share of
    each global batch: the shares are disjoint, their union is the epoch, and every process
    takes the same number of steps. The permutation is drawn on the CPU generator (the run's
    random stream on every device) and copied to ``device`` once per epoch, so every batch's
    index is already there.
    """
    if batch_size % world_size:
        raise ValueError(
            f"batch_size {batch_size} must be a multiple of the {world_size} processes"
        )
    order = torch.randperm(n, generator=generator)
    if device is not None:
        order = order.to(device)
    share = batch_size // world_size
    starts = range(0, n - batch_size + 1, batch_size)
    if not starts:
        raise ValueError(f"batch_size {batch_size} is larger than the {n} training samples")
    for start in starts:
        yield order[start + rank * share : start + (rank + 1) * share]


def apply_phase(model: nn.Module, phase: Phase) -> list[nn.Parameter]:
    """Freeze what the phase does not train; return the parameters it trains.

    A model with ``parameter_groups()`` (e.g. ``{"heatmap": [...], "mask": [...]}``) can train
    one group; ``phase.train == "all"`` trains every parameter. A model with ``masks_active``
    follows ``phase.masks``.
    """
    groups = model.parameter_groups() if hasattr(model, "parameter_groups") else {}
    if phase.train != "all" and phase.train not in groups:
        raise ValueError(
            f"phase {phase.name!r} trains {phase.train!r}, which the model lacks; "
            f"it has {sorted(groups)}"
        )
    frozen = [m for name, mods in groups.items() if phase.train not in ("all", name) for m in mods]
    for p in model.parameters():
        p.requires_grad_(True)
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    model.frozen_modules = frozen
    if hasattr(model, "masks_active"):
        model.masks_active = phase.masks and getattr(model, "attention", None) is not None
    return [p for p in model.parameters() if p.requires_grad]


def train_mode(model: nn.Module) -> None:
    """``model.train()``, except BatchNorm in frozen parts keeps using its running statistics."""
    model.train()
    for module in getattr(model, "frozen_modules", []):
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()


def make_optimizer(name: str, parameters: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """RMSProp (the ACNN paper's) or Adam, at ``lr``."""
    if name == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr)
    raise ValueError(f"optimizer must be 'rmsprop' or 'adam', got {name!r}")


def gradient_norms(model: nn.Module) -> dict[str, float]:
    """L2 norm and per-parameter RMS of the gradients of each parameter group, and the RMS per
    element of the gradients at the model's output tensors when it logs them
    (``tensor_gradient_rms``, e.g. ACNN's masks and heatmaps)."""
    groups = model.parameter_groups() if hasattr(model, "parameter_groups") else {"all": [model]}
    norms = {}
    for name, modules in groups.items():
        grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
        if not grads:
            continue
        squared = sum(float(g.float().pow(2).sum()) for g in grads)
        count = sum(g.numel() for g in grads)
        norms[f"grad_norm_{name}"] = math.sqrt(squared)
        norms[f"grad_rms_{name}"] = math.sqrt(squared / count)
    if hasattr(model, "tensor_gradient_rms"):
        norms.update({f"grad_elem_{k}": v for k, v in model.tensor_gradient_rms().items()})
    return norms


GradientLayout = tuple[tuple[str, int, int], ...]


def gradient_squares(model: nn.Module) -> tuple[torch.Tensor | None, GradientLayout]:
    """The sums of squared gradients of every parameter that has one, as one device tensor
    (nothing is read back), and its layout: (group, parameters, elements) for each parameter
    group in order. :func:`norms_from_squares` turns them into :func:`gradient_norms`' numbers.

    On the CPU each sum is the very operation :func:`gradient_norms` reads, so the numbers are
    bit for bit the same; elsewhere one fused ``_foreach_norm`` per group replaces hundreds of
    small kernels.
    """
    groups = model.parameter_groups() if hasattr(model, "parameter_groups") else {"all": [model]}
    squares, layout = [], []
    for name, modules in groups.items():
        grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
        if not grads:
            continue
        if grads[0].device.type == "cpu":
            squares.extend(g.float().pow(2).sum() for g in grads)
        else:
            squares.extend(n.float().pow(2) for n in torch._foreach_norm(grads))
        layout.append((name, len(grads), sum(g.numel() for g in grads)))
    return (torch.stack(squares) if squares else None), tuple(layout)


def norms_from_squares(values: list[float], layout: GradientLayout) -> dict[str, float]:
    """:func:`gradient_norms` from the host copy of :func:`gradient_squares` (same arithmetic)."""
    norms, start = {}, 0
    for name, parameters, elements in layout:
        squared = sum(values[start : start + parameters])
        start += parameters
        norms[f"grad_norm_{name}"] = math.sqrt(squared)
        norms[f"grad_rms_{name}"] = math.sqrt(squared / elements)
    return norms


@dataclass
class StepResult:
    """What one training step leaves on the device (nothing of it has been read)."""

    loss: torch.Tensor  # the detached loss
    grad_squares: torch.Tensor | None  # gradient_squares()
    layout: GradientLayout
    tensor_rms: dict[str, torch.Tensor]  # RMS of the gradients at logged tensors (ACNN's masks)
    ok: torch.Tensor  # bool: the loss and every gradient are finite


def train_step(
    model: nn.Module,
    step_model: nn.Module,
    task: Task,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator,
    autocast: AbstractContextManager,
) -> StepResult:
    """One training step: the task's loss (augmentation included) under ``autocast``, backward,
    the gradient norms and the finite check, and the optimizer's step. ``step_model`` is what
    runs the forward pass (``model`` itself, its DDP wrapper or its compiled form).

    Nothing is read back from the device, so the caller decides when to wait for it. The
    optimizer steps even when the loss or a gradient is not finite: the caller, which reads
    ``ok`` later, stops the run and keeps no checkpoint after that step.
    """
    with autocast:
        loss = task.loss(step_model, batch, generator)
    # All of the model, not just the optimizer's parameters: a frozen part must not keep (and
    # log) the gradient of an earlier phase.
    model.zero_grad(set_to_none=True)
    loss.backward()
    loss = loss.detach()
    squares, layout = gradient_squares(model)
    tensor_rms = {}
    if hasattr(model, "tensor_gradient_squares"):  # {name: (sum of squares, elements)}
        tensor_rms = {
            name: (total / max(count, 1)).sqrt()
            for name, (total, count) in model.tensor_gradient_squares().items()
        }
    elif hasattr(model, "tensor_gradient_rms"):  # read on the host: a sync per step
        tensor_rms = {
            name: torch.tensor(value, dtype=torch.float32).to(loss.device)
            for name, value in model.tensor_gradient_rms().items()
        }
    ok = torch.isfinite(loss).all()
    for values in [squares, *tensor_rms.values()]:
        if values is not None:
            ok = ok & torch.isfinite(values).all()
    optimizer.step()
    return StepResult(loss, squares, layout, tensor_rms, ok)


def step_generator(shared: torch.Generator, rank: int, device: torch.device) -> torch.Generator:
    """The generator of one step's augmentation on one process, on the training device.

    Seeded from the shared CPU generator (which every process advances alike, and which the
    checkpoint saves), offset by the rank: processes augment their samples differently, and a
    resumed run draws exactly what an uninterrupted one would. On CUDA it is a CUDA generator,
    so the draws are made there; on the CPU (and ``meta``) a CPU one, as always.
    """
    base = int(torch.randint(0, 2**62, (1,), generator=shared))
    on = device if device.type == "cuda" else "cpu"
    return torch.Generator(device=on).manual_seed(base + rank)


def autocast_for(device: torch.device, amp: bool = True) -> torch.autocast:
    """bf16 autocast on CUDA when ``amp``; disabled elsewhere (the CPU trains in float32)."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and device.type == "cuda")


def default_channels_last(device: torch.device, channels_last: bool | None) -> bool:
    """``channels_last`` as asked, or by default on CUDA only (cuDNN's bf16 convolutions are
    faster in that layout). On the CPU it made the quick training steps 11-14% faster on AMD
    Zen 2 (``results/bench/cpu/compare-kernels.json``) but was not shown to learn as well: the
    pose validation PCKh of 3 seeds came out 1.1-2.6 points below the contiguous layout's
    (``results/tuning/synthetic/layout-*``). So CPU runs keep the contiguous layout unless asked.
    """
    return device.type == "cuda" if channels_last is None else channels_last


def _input_to_channels_last(module: nn.Module, args: tuple) -> tuple:
    return tuple(
        a.contiguous(memory_format=torch.channels_last)
        if isinstance(a, torch.Tensor) and a.dim() == 4
        else a
        for a in args
    )


def step_model_for(
    model: nn.Module, device: torch.device, channels_last: bool, compile_model: bool
) -> nn.Module:
    """What runs a training step's forward pass: ``model`` in channels_last when asked,
    wrapped for DDP under torchrun, and compiled when asked (the compiled module shares the
    model's parameters)."""
    if channels_last:
        model.to(memory_format=torch.channels_last)
        # The images too: a convolution follows its input's layout, and a 1 x 1 weight is the
        # same in both layouts, so weights alone would leave most of the network in NCHW.
        if not getattr(model, "_channels_last_inputs", False):
            model.register_forward_pre_hook(_input_to_channels_last)
            model._channels_last_inputs = True
    step_model = distributed.wrap(model, device)
    return torch.compile(step_model) if compile_model else step_model


def restore(state: dict[str, Any], model: nn.Module, generator: torch.Generator) -> None:
    """Load a checkpoint's weights into ``model`` (on any device) and its random states into
    ``generator`` and torch's global generator; the states must be (and are, from
    :func:`_load_checkpoint`) CPU ByteTensors."""
    model.load_state_dict(state["model"])
    generator.set_state(state["generator"].cpu())
    torch.set_rng_state(state["torch_rng"].cpu())


def fit(
    model: nn.Module,
    task: Task,
    train_set: KeypointSet,
    test_set: KeypointSet,
    phases: tuple[Phase, ...],
    *,
    batch_size: int,
    seed: int,
    device: torch.device,
    checkpoint_dir: str | Path | None = None,
    config: dict[str, Any] | None = None,
    amp: bool = True,
    progress: bool | None = None,
    optimizer_name: str = "rmsprop",
    check_every: int | None = None,
    checkpoint_every_s: float | None = None,
    channels_last: bool | None = None,
    compile_model: bool = False,
) -> FitResult:
    """Train through ``phases`` and evaluate; resume from ``checkpoint_dir`` when it holds a
    checkpoint of the same ``config``.

    Under ``torchrun`` (:mod:`studylib.distributed`) the model trains as DistributedDataParallel
    on the global ``batch_size``; only rank 0 evaluates and checkpoints, and the other ranks
    return empty metrics. ``task.loss`` then receives the DDP wrapper: it should call it, and
    reach the model's own methods through :func:`studylib.distributed.unwrap`.

    ``check_every``: steps between reads of the finite flags (default: 1 on the CPU, 50 on
    other devices); ``checkpoint_every_s``: seconds between checkpoints within a phase (default:
    0, every epoch, on the CPU; 300 elsewhere); ``channels_last`` (default: on CUDA only) and
    ``compile_model`` (``torch.compile`` the model for the training steps) change speed, not
    what is computed.

    Raises:
        NonFiniteLossError: the loss or a gradient was not finite (names the first bad epoch and
        step).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if any(p.epochs < 1 for p in phases):
        raise ValueError(f"every phase needs >= 1 epoch, got {[p.epochs for p in phases]}")
    on_cpu = device.type == "cpu"
    check_every = check_every or (1 if on_cpu else 50)
    if checkpoint_every_s is None:
        checkpoint_every_s = 0.0 if on_cpu else 300.0
    channels_last = default_channels_last(device, channels_last)
    configure_device(device)
    ctx = distributed.context()
    torch.manual_seed(seed)
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    data = to_device(train_set, device)
    autocast = autocast_for(device, amp)
    total_epochs = sum(p.epochs for p in phases)
    phase_of_epoch = [(i, e) for i, p in enumerate(phases) for e in range(p.epochs)]

    history: list[dict[str, Any]] = []
    start_epoch, wall_before, optimizer, phase_index = 0, 0.0, None, -1
    state = _load_checkpoint(checkpoint_dir, config)
    if state is not None:
        restore(state, model, generator)
        history, start_epoch, wall_before = state["history"], state["epoch"], state["wall_time_s"]
    saved_epoch = start_epoch  # the epoch of the checkpoint on disk (0: none)

    started = last_save = time.perf_counter()
    bar = tqdm(
        total=total_epochs,
        initial=start_epoch,
        desc="epochs",
        disable=progress is False if progress is not None else None,
        leave=False,
    )
    for epoch in range(start_epoch, total_epochs):
        index, epoch_in_phase = phase_of_epoch[epoch]
        phase = phases[index]
        if index != phase_index:
            trainable = apply_phase(model, phase)
            # Per phase: what trains has changed.
            step_model = step_model_for(model, device, channels_last, compile_model)
            optimizer = make_optimizer(optimizer_name, trainable, phase.lr)
            if state is not None and state["phase_index"] == index:
                optimizer.load_state_dict(state["optimizer"])
            phase_index = index
        steps_per_epoch = len(train_set) // batch_size
        lr = phase.lr_at(epoch_in_phase / phase.epochs)

        train_mode(model)
        done: list[StepResult] = []  # this epoch's checked steps
        pending: list[tuple[int, float, StepResult]] = []  # (step, lr, result) not yet checked
        for step, idx in enumerate(
            batch_indices(len(train_set), batch_size, generator, ctx.rank, ctx.world_size, device)
        ):
            progress = (epoch_in_phase * steps_per_epoch + step) / (phase.epochs * steps_per_epoch)
            step_lr = phase.lr_at(progress)
            for group in optimizer.param_groups:
                group["lr"] = step_lr
            batch = {key: value[idx] for key, value in data.items()}
            result = train_step(
                model,
                step_model,
                task,
                optimizer,
                batch,
                step_generator(generator, ctx.rank, device),
                autocast,
            )
            pending.append((step, step_lr, result))
            if len(pending) >= check_every:
                _check(pending, epoch, phase, _kept(checkpoint_dir, saved_epoch))
                done.extend(r for _, _, r in pending)
                pending = []
        _check(pending, epoch, phase, _kept(checkpoint_dir, saved_epoch))
        done.extend(r for _, _, r in pending)
        norms = _epoch_norms(done)
        losses = [r.loss for r in done]

        with autocast:
            metrics = task.evaluate(model, test_set, device, final=False)[0] if ctx.is_main else {}
        row = {
            "epoch": epoch + 1,
            "phase": phase.name,
            "lr": lr,
            "train_loss": distributed.mean(torch.stack(losses).mean()),
        }
        row.update({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        row.update(pd.DataFrame(norms).mean().to_dict())
        history.append(row)
        phase_ends = epoch_in_phase == phase.epochs - 1
        due = time.perf_counter() - last_save >= checkpoint_every_s
        if checkpoint_dir is not None and ctx.is_main and (phase_ends or due):
            _save_checkpoint(
                checkpoint_dir,
                {
                    "config": config,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "phase_index": index,
                    "epoch": epoch + 1,
                    "history": history,
                    "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "wall_time_s": wall_before + time.perf_counter() - started,
                },
            )
            saved_epoch, last_save = epoch + 1, time.perf_counter()
        bar.update(1)
        bar.set_postfix(loss=f"{row['train_loss']:.3g}", phase=phase.name)
    bar.close()

    if ctx.is_main:
        with autocast:
            metrics, per_sample = task.evaluate(model, test_set, device)
    else:
        metrics, per_sample = {}, pd.DataFrame()
    wall = wall_before + time.perf_counter() - started
    steps_per_epoch = len(train_set) // batch_size
    return FitResult(
        history=pd.DataFrame(history),
        metrics=metrics,
        per_sample=per_sample,
        wall_time_s=wall,
        train_images=total_epochs * steps_per_epoch * batch_size,
        device=device,
    )


def fit_run(
    model: nn.Module,
    task: Task,
    train_set: KeypointSet,
    test_set: KeypointSet,
    config: Any,
    folder: str | Path,
    device: torch.device,
    progress: bool | None = None,
) -> FitResult:
    """:func:`fit` as a run config says: its phases, batch size, seed and precision (a
    :class:`~studylib.config.PoseConfig` or :class:`~studylib.config.FaceConfig`), with the
    checkpoints in the run's ``folder``."""
    return fit(
        model,
        task,
        train_set,
        test_set,
        config.phases(),
        batch_size=config.batch_size,
        seed=config.seed,
        device=device,
        checkpoint_dir=folder,
        config=config.to_dict(),
        amp=config.amp,
        progress=progress,
        optimizer_name=config.optimizer,
        channels_last=config.channels_last,
        compile_model=config.compile,
    )


def _check(
    pending: list[tuple[int, float, StepResult]], epoch: int, phase: Phase, kept: str
) -> None:
    """Read the finite flags of ``pending`` steps (one read, agreed by every process) and raise
    at the first bad one."""
    if not pending:
        return
    ok = distributed.all_ok(torch.stack([r.ok for _, _, r in pending]))
    if bool(ok.all()):
        return
    step, lr, result = pending[int((~ok).nonzero()[0])]
    where = f"at epoch {epoch + 1}, step {step + 1} (phase {phase.name}, lr {lr:g} of {phase.lr:g})"
    loss = float(result.loss)
    if not math.isfinite(loss):
        raise NonFiniteLossError(f"loss is {loss} {where}; {kept}")
    # A finite loss with a non-finite gradient: the step turned the weights into NaN.
    norms = _step_norms(result, [] if result.grad_squares is None else result.grad_squares.tolist())
    bad = {k: v for k, v in norms.items() if not math.isfinite(v)}
    what = ", ".join(f"{k} = {v}" for k, v in bad.items()) or "not finite on another process"
    raise NonFiniteLossError(f"gradient {what} {where} (loss {loss:g}); {kept}")


def _step_norms(result: StepResult, values: list[float]) -> dict[str, float]:
    norms = norms_from_squares(values, result.layout)
    norms.update({f"grad_elem_{k}": float(v) for k, v in result.tensor_rms.items()})
    return norms


def _epoch_norms(results: list[StepResult]) -> list[dict[str, float]]:
    """Every step's gradient norms, read from the device at once."""
    squares = [r.grad_squares for r in results if r.grad_squares is not None]
    rms = [v for r in results for v in r.tensor_rms.values()]
    values = torch.cat([*squares, *(v.reshape(1) for v in rms)]).tolist() if squares or rms else []
    flat_squares, flat_rms = (
        iter(values[: sum(len(s) for s in squares)]),
        iter(values[sum(len(s) for s in squares) :]),
    )
    norms = []
    for r in results:
        count = 0 if r.grad_squares is None else len(r.grad_squares)
        step = norms_from_squares([next(flat_squares) for _ in range(count)], r.layout)
        step.update({f"grad_elem_{k}": next(flat_rms) for k in r.tensor_rms})
        norms.append(step)
    return norms


def _kept(checkpoint_dir: str | Path | None, epochs_done: int) -> str:
    """What a run stopped by a non-finite loss leaves to resume from (for the error message)."""
    if checkpoint_dir is None:
        return "no checkpoint is kept (checkpoint_dir=None)"
    if epochs_done == 0:
        return "no epoch had finished, so there is no checkpoint"
    return f"the checkpoint of epoch {epochs_done} in {checkpoint_dir} is kept"


def _save_checkpoint(folder: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(Path(folder) / CHECKPOINT) as tmp:
        torch.save(state, tmp)


def _load_checkpoint(folder: str | Path | None, config: dict | None) -> dict | None:
    """The checkpoint in ``folder`` if it was written for ``config`` (else None: start afresh),
    read onto the CPU: the random states must stay CPU ByteTensors, and the model's and the
    optimizer's ``load_state_dict`` move the rest to the training device.

    A file that cannot be read as a checkpoint (damaged by something other than studylib's
    atomic writes, e.g. a partial copy) is not resumed either: a warning names it and the run
    starts afresh, overwriting it at the end of its first epoch.
    """
    path = None if folder is None else Path(folder) / CHECKPOINT
    if path is None or not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch.load raises several types for a damaged or foreign file
        warnings.warn(
            f"{path}: not a readable checkpoint ({type(error).__name__}: {error}); "
            "the run starts afresh",
            stacklevel=3,
        )
        return None
    if not isinstance(state, dict):
        warnings.warn(f"{path}: not a studylib checkpoint; the run starts afresh", stacklevel=3)
        return None
    return state if state.get("config") == config else None


def needs_training(folder: str | Path, config: dict[str, Any], force: bool = False) -> bool:
    """Whether the run in ``folder`` must train: not when its record holds exactly ``config`` (a
    finished run is reused, so a sweep that died half-way finishes only what is missing), unless
    ``force``, which also drops its checkpoint so that it trains from the start."""
    if not force and results.is_complete(folder, config):
        return False
    if force:
        (Path(folder) / CHECKPOINT).unlink(missing_ok=True)
    return True


def load_model_weights(model: nn.Module, folder: str | Path) -> nn.Module:
    """Load the weights of a run's last checkpoint into ``model`` (on any device)."""
    path = Path(folder) / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint (it is not committed; re-run the run)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    return model
