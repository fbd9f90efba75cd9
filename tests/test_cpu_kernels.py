"""The pinning of the CPU kernels' code paths (studylib.cpu_kernels: kernel_env,
pin_cpu_kernels) that makes records repeatable across processors; a record made with another
code path asked of MKL is compared bit for bit in test_determinism.py."""

import warnings

import pytest

from studylib import cpu_kernels


def test_kernel_env_pins_only_where_avx2_is(monkeypatch):
    monkeypatch.delenv(cpu_kernels.PIN_ENV, raising=False)  # on by default
    assert cpu_kernels.kernel_env({"sse4_2", "avx", "avx2", "fma"}) == cpu_kernels.CPU_KERNEL_ENV
    monkeypatch.setenv(cpu_kernels.PIN_ENV, "1")
    assert cpu_kernels.kernel_env({"avx2", "avx512f"}) == cpu_kernels.CPU_KERNEL_ENV
    assert cpu_kernels.kernel_env({"sse4_2", "avx"}) == {}
    assert cpu_kernels.kernel_env(set()) == {}
    monkeypatch.setenv(cpu_kernels.PIN_ENV, "0")
    assert cpu_kernels.kernel_env({"avx2"}) == {}


def test_pin_keeps_settings_already_made_and_warns_after_torch(monkeypatch):
    import torch  # noqa: F401 (imported first, as a notebook that imports torch first does)

    monkeypatch.delenv(cpu_kernels.PIN_ENV, raising=False)
    monkeypatch.setattr(cpu_kernels, "kernel_env", lambda: dict(cpu_kernels.CPU_KERNEL_ENV))
    for name in cpu_kernels.CPU_KERNEL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    with pytest.warns(RuntimeWarning, match="ATEN_CPU_CAPABILITY") as caught:
        effective = cpu_kernels.pin_cpu_kernels()
    assert "MKL_CBWR" not in str(caught[0].message)  # the user's own setting is kept, unnamed
    assert effective["MKL_CBWR"] == "COMPATIBLE"
    assert effective["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cpu_kernels.pin_cpu_kernels()  # all set now: nothing to warn about
