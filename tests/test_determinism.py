"""A run's record does not depend on the CPU kernels' code path: a face fit in two fresh
processes, one of them with MKL asked for another code path, writes the same record bit for bit,
because studylib pins the kernel settings before torch computes. (The pinning itself, kernel_env
and pin_cpu_kernels, is unit-tested in test_cpu_kernels.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import TINY_FACE
from studylib import cpu_kernels
from studylib.io import read_json

#: The tiny face fit for two epochs: every kind of kernel a quick run uses, for a few steps.
FIT_SIZE = {**TINY_FACE, "epochs": 2}
FIT = """
import sys
import studylib  # first, as a notebook or the run command does: it pins the CPU kernels
from studylib.config import FaceConfig
from studylib.face import run_face

config = FaceConfig.from_profile("smoke", **{tiny})
print(run_face(config, sys.argv[1], "determinism", "adm", progress=False))
"""


def fit_in_subprocess(root, **env_changes: str | None) -> dict:
    """A tiny face fit in a fresh process with the environment changed (None removes a
    variable); its record's files."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for name in cpu_kernels.CPU_KERNEL_ENV:  # this process's pins are not passed on
        env.pop(name, None)
    env.pop(cpu_kernels.PIN_ENV, None)  # the default: pinned
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    code = FIT.format(tiny=repr(FIT_SIZE))
    out = subprocess.run(
        [sys.executable, "-c", code, str(root)],
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


@pytest.mark.skipif(
    "avx2" not in cpu_kernels._cpu_flags(),
    reason="kernel settings are pinned on x86-64 CPUs with AVX2 only",
)
def test_face_record_is_the_same_whichever_mkl_code_path(tmp_path):
    pinned = fit_in_subprocess(tmp_path / "pinned")
    # Another processor's MKL would choose another code path; ask for one explicitly.
    other = fit_in_subprocess(tmp_path / "other", MKL_CBWR="AVX")
    for name in ("metrics.json", "history.csv", "per_sample.csv"):
        assert pinned[name] == other[name], f"{name} differs between MKL code paths"
    kernels = pinned["provenance"]["cpu_kernels"]
    pinned_env = cpu_kernels.CPU_KERNEL_ENV
    assert {name: kernels[name] for name in pinned_env} == pinned_env
    assert kernels["aten_capability"] == "AVX2"
    assert kernels["pinned_after_torch_import"] is False
    assert other["provenance"]["cpu_kernels"]["MKL_CBWR"] == "AVX"
    assert json.loads(pinned["metrics.json"])["nme"] > 0
