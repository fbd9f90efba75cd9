"""The CUDA path, checked without a GPU.

- Resume: a checkpoint's random states come back as CPU ByteTensors whatever the training device
  (``meta`` stands in for CUDA: a state moved there could not be set).
- Zero host syncs in a training step: both tracks' steps run on the ``meta`` device, whose
  tensors hold no data, under a dispatch mode that records every data-dependent read of a
  device value (``.item()``, ``float()``/``bool()`` of a tensor, ``nonzero``, a linear-algebra
  error check) and every copy between devices. On CUDA each of these blocks the host until the
  GPU has caught up; the step must make none.
- Deferred finite checks still stop a run at the first bad step, name it, and keep the last good
  checkpoint; checkpoints come at phase ends (and every few minutes), not every epoch, when asked.
- ``make gpu-check``'s dry run (the CPU at tiny sizes) passes.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from helpers import FaultyTask, fit_tiny, tiny_pose_config
from studylib import face, pose, train
from studylib.config import FaceConfig, PoseConfig
from studylib.data.augment import AugmentConfig
from studylib.data.keypoints import FACE68, MPII

aten = torch.ops.aten

#: Ops that read a device value on the host (or, on CUDA, check a status on the host).
HOST_READS = {
    aten._local_scalar_dense.default,  # .item(), float(t), int(t), bool(t)
    aten.is_nonzero.default,  # bool(t) of a one-element tensor
    aten.item.default,
    aten.nonzero.default,  # its output's size is data-dependent
    aten.masked_select.default,
    aten._linalg_check_errors.default,  # linalg.inv, cholesky, ...: reads the status
    aten._linalg_svd.default,  # checks its status in the kernel, which a meta run cannot see
    aten._linalg_eigh.default,
}
COPIES = {aten._to_copy.default, aten.copy_.default}


class _Recording:
    """A torch mode that appends what it sees to a shared list, ``found``."""

    def __init__(self, found: list[str]) -> None:
        super().__init__()
        self.found = found


class _DispatchTrap(_Recording, TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        devices = {t.device.type for t in tensors}
        if func in HOST_READS and devices - {"cpu"}:
            self.found.append(f"{func} on {sorted(devices)}")
        if func in COPIES:
            if kwargs.get("device") is not None:
                devices.add(torch.device(kwargs["device"]).type)
            if len(devices) > 1:
                self.found.append(f"{func} between {sorted(devices)}")
        if func is aten.index.Tensor and any(
            t.dtype in (torch.bool, torch.uint8) for t in tensors[1:]
        ):
            self.found.append(f"{func} with a boolean mask (a nonzero)")
        return func(*args, **kwargs)


class _FunctionTrap(_Recording, TorchFunctionMode):
    """``torch.tensor(data, device=...)`` builds on the host and copies, below the dispatcher."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        device = kwargs.get("device")
        if (
            func in (torch.tensor, torch.as_tensor)
            and device is not None
            and torch.device(device).type != "cpu"
        ):
            self.found.append(f"{func.__name__}(..., device={device})")
        return func(*args, **kwargs)


class HostSyncTrap:
    """Records every data-dependent host read of a non-CPU tensor and every copy between
    devices (reads of CPU tensors are not syncs: the random seed of a step is one)."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self._modes = (_FunctionTrap(self.found), _DispatchTrap(self.found))

    def __enter__(self) -> HostSyncTrap:
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)


META = torch.device("meta")


def _batch(size: int, keypoints: int, batch: int = 4) -> dict[str, torch.Tensor]:
    return {
        "images": torch.empty(batch, size, size, 3, dtype=torch.uint8, device=META),
        "joints": torch.empty(batch, keypoints, 2, device=META),
        "valid": torch.empty(batch, keypoints, dtype=torch.bool, device=META),
    }


def _pose_case(attention: str | None = "acnn"):
    config = PoseConfig.from_profile("smoke", num_stacks=2, features=8, attention=attention)
    model = pose.build_model(config, MPII.num_keypoints)
    task = pose.PoseTask(
        flip_permutation=torch.from_numpy(MPII.flip_permutation()), stride=model.stride
    )
    return config, model, task, _batch(config.image_size, MPII.num_keypoints)


def _face_case():
    config = FaceConfig.from_profile("smoke")
    model = face.build_model(config, FACE68.num_keypoints)
    task = face.FaceTask(
        flip_permutation=torch.from_numpy(FACE68.flip_permutation()),
        input_size=config.image_size,
        augment=AugmentConfig(**config.augment),
    )
    return config, model, task, _batch(config.image_size, FACE68.num_keypoints)


def test_the_trap_sees_host_reads_and_copies():
    x = torch.empty(3, device=META)
    for read in (
        lambda: x.sum().item(),
        lambda: float(x.sum()),
        lambda: bool(x.sum() > 0),
        lambda: x.to("cpu"),
        lambda: torch.tensor([1.0, 2.0], device=META),
        lambda: torch.linalg.inv(torch.empty(2, 3, 3, device=META)),
        lambda: x[x > 0],
    ):
        # A meta tensor holds no value to read: the read may raise after the trap has seen it.
        with HostSyncTrap() as trap, contextlib.suppress(RuntimeError, NotImplementedError):
            read()
        assert trap.found, read
    with HostSyncTrap() as trap:
        int(torch.randint(0, 10, (1,)))  # a CPU value: no sync
        (x * 2).sum()
    assert trap.found == []


NEEDS_SQUARES = pytest.mark.xfail(
    not hasattr(pose.StackedHourglass, "tensor_gradient_squares"),
    reason="ACNN's mask and heatmap gradients are read per step until StackedHourglass offers "
    "tensor_gradient_squares (the sums on the device)",
    strict=True,
)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(_pose_case, id="pose-acnn", marks=NEEDS_SQUARES),
        pytest.param(lambda: _pose_case(None), id="pose-plain"),
        pytest.param(_face_case, id="face"),
    ],
)
def test_training_step_reads_nothing_back_from_the_device(case):
    config, model, task, batch = case()
    model.to(META)
    trainable = train.apply_phase(model, config.phases()[0])
    train.train_mode(model)
    optimizer = train.make_optimizer(getattr(config, "optimizer", "rmsprop"), trainable, 1e-3)
    autocast = train.autocast_for(META, config.amp)
    shared = torch.Generator().manual_seed(0)
    for step in range(3):
        generator = train.step_generator(shared, 0, META)
        with HostSyncTrap() as trap:
            result = train.train_step(model, model, task, optimizer, batch, generator, autocast)
        if step == 0:  # a run's first step copies the task's flip permutation over, once
            assert len(trap.found) <= 1, trap.found
            continue
        assert trap.found == [], f"{len(trap.found)} host syncs in the step: {trap.found[:5]}"
        assert result.loss.device == META and result.ok.device == META
        assert result.grad_squares.device == META


def test_epoch_indices_are_made_on_the_device():
    with HostSyncTrap() as trap:
        order = list(train.batch_indices(10, 4, torch.Generator().manual_seed(0), device=META))
    assert [i.device for i in order] == [META, META]
    assert len(trap.found) == 1  # the epoch's permutation, copied once, not once per batch


# ----------------------------------------------------------------------------- resume


def _fit(config: PoseConfig, folder: Path | None, wrap=None, **kwargs):
    """The outcome of the tests' small pose fit (helpers.fit_tiny)."""
    return fit_tiny(config, folder, wrap, **kwargs)[0]


pytestmark = [
    pytest.mark.filterwarnings("ignore:for .*copying from a non-meta parameter:UserWarning"),
    pytest.mark.usefixtures("one_thread"),
]


def test_a_checkpoint_resumes_on_another_device(tmp_path):
    config = tiny_pose_config(epochs=1)
    _fit(config, tmp_path)
    state = train._load_checkpoint(tmp_path, config.to_dict())
    for key in ("generator", "torch_rng"):
        assert state[key].device.type == "cpu" and state[key].dtype == torch.uint8

    model = pose.build_model(config, MPII.num_keypoints).to(META)
    generator = torch.Generator()
    before = torch.get_rng_state()
    try:
        train.restore(state, model, generator)
        assert torch.equal(generator.get_state(), state["generator"])
        assert torch.equal(torch.get_rng_state(), state["torch_rng"])
    finally:
        torch.set_rng_state(before)
    assert all(p.device == META for p in model.parameters())


# ----------------------------------------------------------------------------- finite checks


def nan_at(epoch: int, step: int):
    """A task wrapper: the task's loss times NaN at (``epoch``, ``step``)."""
    return lambda task: FaultyTask(task, epoch, step, fault=lambda loss: loss * math.nan)


def test_a_deferred_finite_check_names_the_first_bad_step(tmp_path):
    config = tiny_pose_config(epochs=3)
    # Epoch 2, step 1 goes bad; it is read 3 steps later (at the end of epoch 2).
    with pytest.raises(train.NonFiniteLossError, match=r"loss is nan at epoch 2, step 1 ") as err:
        _fit(config, tmp_path, nan_at(epoch=2, step=1), check_every=5)
    assert "checkpoint of epoch 1" in str(err.value)
    state = train._load_checkpoint(tmp_path, config.to_dict())
    assert state["epoch"] == 1


def test_deferred_checks_give_the_same_numbers():
    config = tiny_pose_config(epochs=2)
    every = _fit(config, None, check_every=1)
    deferred = _fit(config, None, check_every=100)
    pd.testing.assert_frame_equal(every.history, deferred.history)
    assert every.metrics == deferred.metrics


def test_checkpoints_at_phase_ends_when_the_interval_is_long(tmp_path, monkeypatch):
    config = tiny_pose_config(num_stacks=2, epochs=5, attention="acnn", schedule="A-B-C")
    # two stacks: one stack has no mask head for phase B to train
    saved = []
    real = train._save_checkpoint

    def spy(folder, state):
        saved.append(state["epoch"])
        real(folder, state)

    monkeypatch.setattr(train, "_save_checkpoint", spy)
    _fit(config, tmp_path, checkpoint_every_s=1e9)
    ends, total = [], 0
    for phase in config.phases():
        total += phase.epochs
        ends.append(total)
    assert saved == ends
    saved.clear()
    _fit(config, tmp_path / "every", checkpoint_every_s=0)
    assert saved == list(range(1, total + 1))  # every epoch


# ----------------------------------------------------------------------------- gpu-check


@pytest.mark.slow
@pytest.mark.skipif(
    "STUDYLIB_GPU_CHECK" in os.environ, reason="already inside scripts/gpu_check.sh"
)
def test_gpu_check_dry_run_passes(tmp_path):
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "GPU_CHECK_DRY": "1", "OUT": str(tmp_path), "PY": sys.executable}
    done = subprocess.run(
        ["bash", str(root / "scripts" / "gpu_check.sh")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = (tmp_path / "summary.txt").read_text()
    for stage in ("setup", "tests", "bench", "study"):
        assert f"{stage}: exit 0" in summary, summary
    assert list((tmp_path / "bench" / "cpu").glob("*.json"))
    assert list((tmp_path / "results").rglob("metrics.json"))
