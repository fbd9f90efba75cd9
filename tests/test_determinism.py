"""A run's record does not depend on the CPU kernels' code path: the kernel settings are pinned
before torch computes (studylib.reproduce), and a face fit in two fresh processes, one of them
with MKL asked for another code path, writes the same record bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from studylib import reproduce
from studylib.io import read_json

#: A face fit small enough for a test, which still runs every kind of kernel a quick run does
#: (convolutions, the low-rank module's matrix products, the nuclear norm's SVD) for a few steps.
TINY_FACE = dict(
    image_size=32,
    width=4,
    rank=8,
    num_train=16,
    num_test=8,
    batch_size=8,
    epochs=2,
    device="cpu",
)

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
    for name in reproduce.CPU_KERNEL_ENV:  # this process's pins are not passed on
        env.pop(name, None)
    env.pop(reproduce.PIN_ENV, None)  # the default: pinned
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    code = FIT.format(tiny=repr(TINY_FACE))
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
    "avx2" not in reproduce._cpu_flags(),
    reason="kernel settings are pinned on x86-64 CPUs with AVX2 only",
)
def test_face_record_is_the_same_whichever_mkl_code_path(tmp_path):
    pinned = fit_in_subprocess(tmp_path / "pinned")
    # Another processor's MKL would choose another code path; ask for one explicitly.
    other = fit_in_subprocess(tmp_path / "other", MKL_CBWR="AVX")
    for name in ("metrics.json", "history.csv", "per_sample.csv"):
        assert pinned[name] == other[name], f"{name} differs between MKL code paths"
    kernels = pinned["provenance"]["cpu_kernels"]
    assert {name: kernels[name] for name in reproduce.CPU_KERNEL_ENV} == reproduce.CPU_KERNEL_ENV
    assert kernels["aten_capability"] == "AVX2"
    assert kernels["pinned_after_torch_import"] is False
    assert other["provenance"]["cpu_kernels"]["MKL_CBWR"] == "AVX"
    assert json.loads(pinned["metrics.json"])["nme"] > 0


def test_kernel_env_pins_only_where_avx2_is(monkeypatch):
    monkeypatch.delenv(reproduce.PIN_ENV, raising=False)  # on by default
    assert reproduce.kernel_env({"sse4_2", "avx", "avx2", "fma"}) == reproduce.CPU_KERNEL_ENV
    monkeypatch.setenv(reproduce.PIN_ENV, "1")
    assert reproduce.kernel_env({"avx2", "avx512f"}) == reproduce.CPU_KERNEL_ENV
    assert reproduce.kernel_env({"sse4_2", "avx"}) == {}
    assert reproduce.kernel_env(set()) == {}
    monkeypatch.setenv(reproduce.PIN_ENV, "0")
    assert reproduce.kernel_env({"avx2"}) == {}


def test_pin_keeps_settings_already_made_and_warns_after_torch(monkeypatch):
    import torch  # noqa: F401 (imported first, as a notebook that imports torch first does)

    monkeypatch.delenv(reproduce.PIN_ENV, raising=False)
    monkeypatch.setattr(reproduce, "kernel_env", lambda: dict(reproduce.CPU_KERNEL_ENV))
    for name in reproduce.CPU_KERNEL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    with pytest.warns(RuntimeWarning, match="ATEN_CPU_CAPABILITY") as caught:
        effective = reproduce.pin_cpu_kernels()
    assert "MKL_CBWR" not in str(caught[0].message)  # the user's own setting is kept, unnamed
    assert effective["MKL_CBWR"] == "COMPATIBLE"
    assert effective["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reproduce.pin_cpu_kernels()  # all set now: nothing to warn about


def test_provenance_records_the_kernel_settings():
    from studylib.results import provenance

    kernels = provenance("cpu", 1.0)["cpu_kernels"]
    assert set(reproduce.CPU_KERNEL_ENV) <= set(kernels)
    assert kernels["aten_capability"]
    assert "cpu_model" in kernels and "cpu_vector_isa" in kernels
