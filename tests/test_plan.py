"""The run pool: the costliest runs first, and one GPU per lane on a machine with several."""

from __future__ import annotations

import os

import pytest

from studylib import plan
from studylib.config import FaceConfig, PoseConfig


def _visible_gpu(barrier) -> str | None:
    # Both tasks wait for each other, so two different pool processes must run them.
    barrier.wait(timeout=120)
    return os.environ.get("CUDA_VISIBLE_DEVICES")


def test_costlier_runs_come_first():
    pose = plan.PlannedRun("pose", PoseConfig.from_profile("quick"), "freezing", "a")
    face = plan.PlannedRun("face", FaceConfig.from_profile("quick"), "reduction_ratio", "b")
    assert sorted([face, pose], key=plan.PlannedRun.cost, reverse=True) == [pose, face]
    # A phased schedule's mask phase is counted: it is the longest of the pose runs.
    phased = plan.PlannedRun(
        "pose",
        PoseConfig.from_profile("quick", attention="acnn", schedule="A-B-C"),
        "freezing",
        "c",
    )
    assert sorted([pose, phased], key=plan.PlannedRun.cost, reverse=True) == [phased, pose]


@pytest.mark.parametrize(
    "lanes, gpus, visible, expected",
    [
        (2, 0, None, None),  # a CPU: no devices to hand out
        (2, 1, None, None),  # one GPU: every lane shares it
        (2, 2, None, ["0", "1"]),
        (4, 2, None, ["0", "1", "0", "1"]),
        (2, 2, "3,5", ["3", "5"]),  # the GPUs this process was given, not the machine's first
    ],
)
def test_lane_devices(monkeypatch, lanes, gpus, visible, expected):
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert plan.lane_devices(lanes, gpus) == expected


def test_each_lane_process_sees_only_its_gpu():
    import multiprocessing

    with multiprocessing.get_context("spawn").Manager() as manager:
        barrier = manager.Barrier(2)
        with plan.lane_pool(2, ["0", "1"]) as pool:
            seen = [pool.submit(_visible_gpu, barrier) for _ in range(2)]
            assert sorted(f.result(timeout=300) for f in seen) == ["0", "1"]


def test_the_study_gives_several_gpus_a_lane_each(monkeypatch, tmp_path):
    made = {}

    class Pool:
        def __init__(self, lanes, devices):
            made.update(lanes=lanes, devices=devices)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, *args):
            raise AssertionError("no run should be submitted in this test")

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(plan, "_gpu_count", lambda: 2)
    monkeypatch.setattr(plan, "lane_pool", Pool)
    monkeypatch.setattr(plan.PlannedRun, "cost", lambda self: 1.0)
    run = plan.PlannedRun("face", FaceConfig.from_profile("smoke"), "reduction_ratio", "x")
    with pytest.raises(AssertionError, match="no run should be submitted"):
        plan.train_all([run], tmp_path, lanes=2, force=True, log=lambda *a, **k: None)
    assert made == {"lanes": 2, "devices": ["0", "1"]}
