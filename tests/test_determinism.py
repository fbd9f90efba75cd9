"""A run is deterministic on one machine: the same run in two fresh processes, with the kernel
settings the study uses (studylib.cpu_kernels), writes the same record bit for bit. Across
processors no such promise is made (their kernels round differently); ``studylib.reproduce``
checks a re-run there against its setting's seeds instead. The settings themselves are
unit-tested in test_cpu_kernels.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import TINY_FACE, TINY_POSE
from studylib import cpu_kernels
from studylib.io import read_json

FIT = """
import sys
import studylib  # first, as a notebook or the run command does: it sets the CPU kernels
from studylib.config import FaceConfig, PoseConfig
from studylib.face import run_face
from studylib.pose import run_pose

track, root = sys.argv[1], sys.argv[2]
if track == "face":
    config = FaceConfig.from_profile("smoke", **{face})
    print(run_face(config, root, "determinism", "adm", progress=False))
else:
    config = PoseConfig.from_profile("smoke", **{pose})
    print(run_pose(config, root, "determinism", "acnn-A-B-C", progress=False))
"""
#: Two epochs of each tiny model: every kind of kernel a quick run uses (ACNN's masks and
#: phases, the face model's SVD), for a few steps.
FACE = {**TINY_FACE, "epochs": 2}
POSE = {**TINY_POSE, "num_stacks": 2, "epochs": 3, "attention": "acnn", "schedule": "A-B-C"}


def fit_in_subprocess(track: str, root) -> dict:
    """A tiny fit in a fresh process with the study's default kernel settings; its record's
    files."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for name in (*cpu_kernels.CPU_KERNEL_VARIABLES, cpu_kernels.CHOICE_ENV):
        env.pop(name, None)  # this process's settings are not passed on: the defaults apply
    code = FIT.format(face=repr(FACE), pose=repr(POSE))
    out = subprocess.run(
        [sys.executable, "-c", code, track, str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    folder = out.stdout.strip().splitlines()[-1]
    files = {
        name: Path(folder, name).read_text(encoding="utf-8")
        for name in ("metrics.json", "history.csv", "per_sample.csv")
    }
    files["provenance"] = read_json(Path(folder, "provenance.json"))
    return files


@pytest.mark.parametrize("track", ["face", "pose"])
def test_two_processes_write_the_same_record(tmp_path, track):
    first = fit_in_subprocess(track, tmp_path / "first")
    second = fit_in_subprocess(track, tmp_path / "second")
    for name in ("metrics.json", "history.csv", "per_sample.csv"):
        assert first[name] == second[name], f"{track}: {name} differs between two processes"
    kernels = first["provenance"]["cpu_kernels"]
    assert kernels["choice"] == "native"
    assert {n: kernels[n] for n in cpu_kernels.NATIVE_KERNEL_ENV} == cpu_kernels.NATIVE_KERNEL_ENV
    assert kernels["pinned_after_torch_import"] is False
    metrics = json.loads(first["metrics.json"])
    assert (metrics["nme"] if track == "face" else metrics["pckh"]) is not None
