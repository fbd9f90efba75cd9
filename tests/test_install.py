"""The set-up's torch choice as a function of the platform (Makefile's TORCH_SPEC): Linux without
a GPU gets the CPU build ("+cpu", no CUDA packages), macOS the plain version (PyPI's macOS wheels
carry no "+cpu" label, so asking for one would fail the install)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def torch_install_line(uname: str, tmp_path: Path) -> str:
    venv = tmp_path / "venv"
    out = subprocess.run(
        ["make", "-n", "-B", f"{venv}/.installed", f"UNAME={uname}", f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(line for line in out.splitlines() if "pip install" in line and "torch" in line)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_macos_installs_the_plain_torch_wheel(tmp_path):
    assert '"torch==2.13.0"' in torch_install_line("Darwin", tmp_path)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a CUDA machine gets CUDA")
def test_linux_without_a_gpu_installs_the_cpu_build(tmp_path):
    assert '"torch==2.13.0+cpu"' in torch_install_line("Linux", tmp_path)
