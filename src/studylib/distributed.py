"""Several processes, one run: DistributedDataParallel under ``torchrun``.

    torchrun --nproc_per_node 2 -m studylib.run pose --profile full --seed 0

``torchrun`` starts one process per GPU (or per CPU slot) and sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`setup` joins them into a process group (NCCL on CUDA, gloo on the CPU) and
gives each process its device. Inside :func:`studylib.train.fit`:

- the **global batch** (``batch_size``) is split evenly over the processes, and every process
  takes the same number of steps (DDP all-reduces gradients at every step, so a process with
  one step more would wait forever);
- **BatchNorm** statistics stay per process (plain ``BatchNorm2d``, as in the ACNN paper's
  two-GPU Torch training): cheaper than synchronised BatchNorm and fine with >= 8 images per
  process; the per-process batch is recorded;
- only **rank 0** evaluates, writes checkpoints and run records; the checkpoint holds the
  unwrapped model's weights, so it loads on one device like any other;
- the **finite check** is collective but not per step: every process keeps its steps' flags on
  its device and all of them reduce the flags together at the same steps
  (:func:`all_ok`), so they stop together without an all-reduce and a host read per step.

On CUDA each process needs a GPU of its own (``LOCAL_RANK`` < the GPUs torch sees).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among ``world_size`` processes, and its device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup(device: str = "auto") -> Context:
    """Join the process group torchrun prepared (a no-op outside torchrun)."""
    if not launched_by_torchrun():
        return Context()
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"process {local_rank} needs GPU {local_rank}, but torch sees "
                f"{torch.cuda.device_count()}; start at most that many processes per node "
                "(or train on the CPU with device=cpu)"
            )
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Context(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        device=torch.device("cuda", local_rank) if use_cuda else torch.device("cpu"),
    )


def context() -> Context:
    """The current process's rank and world size (rank 0 of 1 without a process group)."""
    if dist.is_available() and dist.is_initialized():
        return Context(rank=dist.get_rank(), world_size=dist.get_world_size())
    return Context()


def all_finite(value: torch.Tensor) -> bool:
    """Whether ``value`` is finite on every process (so all of them stop together). It reads
    the answer on the host: call it between steps, not inside one."""
    finite = torch.isfinite(value.detach()).all().to(torch.int32)
    if context().world_size > 1:
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite)


def all_ok(flags: torch.Tensor) -> torch.Tensor:
    """Elementwise AND of a bool tensor over every process, on the host (one read for all of
    its elements: e.g. one flag per training step since the last check)."""
    flags = flags.detach().to(torch.int32)
    if context().world_size > 1:
        dist.all_reduce(flags, op=dist.ReduceOp.MIN)
    return flags.cpu().bool()


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` as DistributedDataParallel when several processes train it, else itself.

    DDP broadcasts rank 0's buffers (BatchNorm running statistics) at every forward, so the
    statistics stay identical across processes while each batch is normalised by its own.
    """
    if context().world_size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    )


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP wrapper (or the model itself)."""
    return getattr(model, "module", model)


def mean(value: torch.Tensor) -> float:
    """The mean of a scalar over every process."""
    value = value.detach().float().clone()
    if context().world_size > 1:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= context().world_size
    return float(value)


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
