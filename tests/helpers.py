"""Helpers shared by several test files: tiny configs, models and data sets, the real-data root,
a one-thread context, fake run records, and the tests' one small pose fit (with a task whose loss
can be made to go bad at a chosen step).

Not a test file (pytest does not collect it). The test files import it as ``from helpers import
...``: the tests folder has no ``__init__.py``, so pytest's default ("prepend") import mode puts
it on ``sys.path``. Fixtures stay in the test files (shared ones belong in conftest.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch

from studylib import pose, results
from studylib.config import PoseConfig
from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import MPII
from studylib.data.real import available
from studylib.data.synthetic_pose import generate_pose
from studylib.experiments import freezing
from studylib.models import StackedHourglass
from studylib.train import fit

# ----------------------------------------------------------------------------- threads


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch threads and restore the previous setting afterwards.

    Tiny models run faster and bitwise repeatably on one thread, and do not fight other
    processes for the CPU (oversubscribed threads spin on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- real data

#: Real data is found through ``STUDYLIB_DATA``; when it is unset, the development machines'
#: ``../shared/data`` next to the repository.
DATA_ROOT = Path(
    os.environ.get("STUDYLIB_DATA") or Path(__file__).parents[1].parent / "shared" / "data"
)


def require_real_data(name: str) -> Path:
    """The data root, or skip the test when the real source ``name`` is not there."""
    if not available(name, DATA_ROOT):
        pytest.skip(
            f"real data {name!r} not found under {DATA_ROOT}: set STUDYLIB_DATA to the folder "
            "holding lsp/, lspet/, 300w/, mpii/ and fixtures/"
        )
    return DATA_ROOT


# ----------------------------------------------------------------------------- tiny configs

#: A pose run that takes about a second: 3 steps of 4 images per epoch, 4 epochs, 4 test images.
TINY_POSE = dict(
    num_stacks=1, features=8, num_train=12, num_test=4, batch_size=4, epochs=4, device="cpu"
)
STEPS_PER_EPOCH = 3

#: A face fit small enough for a test, which still runs every kind of kernel a quick run does
#: (convolutions, the low-rank module's matrix products, the nuclear norm's SVD).
TINY_FACE = dict(
    image_size=32, width=4, rank=8, num_train=16, num_test=8, batch_size=8, epochs=1, device="cpu"
)


def tiny_pose_config(**changes) -> PoseConfig:
    """The smoke profile at the :data:`TINY_POSE` size, with ``changes``."""
    return PoseConfig.from_profile("smoke", **{**TINY_POSE, **changes})


# ----------------------------------------------------------------------------- tiny models, data


def small_hourglass(attention=None, mask="soft", stacks=3) -> StackedHourglass:
    """A 16-feature hourglass for 5 joints, seeded."""
    torch.manual_seed(0)
    return StackedHourglass(
        num_stacks=stacks, features=16, num_joints=5, attention=attention, mask=mask
    )


def tiny_pose_model(attention="acnn", mask="soft", stacks=2) -> StackedHourglass:
    """The pose track's model with 8 features for the 16 MPII joints, seeded."""
    torch.manual_seed(0)
    return pose.build_model(
        PoseConfig(num_stacks=stacks, features=8, attention=attention, mask=mask), 16
    )


def pose_sets(num_train: int, num_test: int) -> tuple[KeypointSet, KeypointSet]:
    """(train, test) synthetic pose sets of 64 px images (data seeds 0 and 1)."""
    return generate_pose(num_train, 64, seed=0), generate_pose(num_test, 64, seed=1)


# ----------------------------------------------------------------------------- fake records


def write_fake_pose_run(root, setting, seed, data, noise, rng) -> Path:
    """A freezing-ablation record whose predictions are the true joints of ``data`` plus Gaussian
    pixel noise, with a constant gradient history."""
    pred = data.joints + rng.normal(0, noise, data.joints.shape)
    metrics, per_sample = pose.pose_metrics(pred, data)
    config = freezing.configs(freezing.base_config("smoke"), [setting])[setting]
    phases = config.phases()
    history = pd.DataFrame(
        {
            "epoch": range(1, sum(p.epochs for p in phases) + 1),
            "phase": [p.name for p in phases for _ in range(p.epochs)],
            "grad_norm_heatmap": 2.0,
            "grad_rms_heatmap": 0.02,
            "grad_norm_mask": 0.5,
            "grad_rms_mask": 0.04,
        }
    )
    folder = results.run_dir(root, freezing.ABLATION, "synthetic", setting, seed)
    return results.write_record(folder, config.to_dict(), metrics, history, per_sample, {})


# ----------------------------------------------------------------------------- the small pose fit


class FaultyTask:
    """A pose task whose loss goes bad (``fault(loss)``) at one (epoch, step) of a
    :data:`TINY_POSE`-sized run; counts its training steps."""

    def __init__(self, task, epoch: int, step: int, fault):
        self.task, self.fault, self.steps = task, fault, 0
        self.at = (epoch - 1) * STEPS_PER_EPOCH + step

    def loss(self, model, batch, generator):
        self.steps += 1
        loss = self.task.loss(model, batch, generator)
        return self.fault(loss) if self.steps == self.at else loss

    def evaluate(self, *args, **kwargs):
        return self.task.evaluate(*args, **kwargs)


def fit_tiny(config: PoseConfig, folder: Path | None, wrap=None, **options):
    """``fit`` as run_pose calls it, with the model initialised from the config's seed; ``wrap``
    wraps the task, ``options`` go to ``fit``. Returns the outcome and the task."""
    train_set, test_set = pose.load_pose_data(config)
    torch.manual_seed(config.seed)
    model = pose.build_model(config, MPII.num_keypoints)
    task = pose.PoseTask(flip_permutation=torch.from_numpy(MPII.flip_permutation()))
    task = wrap(task) if wrap else task
    outcome = fit(
        model,
        task,
        train_set,
        test_set,
        config.phases(),
        batch_size=config.batch_size,
        seed=config.seed,
        device=torch.device("cpu"),
        checkpoint_dir=folder,
        config=config.to_dict(),
        progress=False,
        **options,
    )
    return outcome, task
