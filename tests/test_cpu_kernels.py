"""The CPU kernels' settings (studylib.cpu_kernels: kernel_choice, kernel_env,
pin_cpu_kernels): the processor's own kernels with MKL free of alignment effects by default, the
former AVX2 pin on request; that two processes then write the same record is tested in
test_determinism.py."""

import warnings

import pytest

from studylib import cpu_kernels


def test_native_by_default_and_avx2_only_where_the_processor_has_it(monkeypatch):
    monkeypatch.delenv(cpu_kernels.CHOICE_ENV, raising=False)
    assert cpu_kernels.kernel_choice() == "native"
    assert cpu_kernels.kernel_env({"avx2", "avx512f"}) == {"MKL_CBWR": "AUTO"}
    monkeypatch.setenv(cpu_kernels.CHOICE_ENV, "AVX2")
    assert cpu_kernels.kernel_env({"avx2", "avx512f"}) == cpu_kernels.AVX2_KERNEL_ENV
    # Asking a library for AVX2 code on a processor without it would fail: native there.
    assert cpu_kernels.kernel_env({"sse4_2", "avx"}) == cpu_kernels.NATIVE_KERNEL_ENV
    assert cpu_kernels.kernel_env(set()) == cpu_kernels.NATIVE_KERNEL_ENV


def test_an_unknown_choice_names_the_variable(monkeypatch):
    monkeypatch.setenv(cpu_kernels.CHOICE_ENV, "avx9000")
    with pytest.raises(ValueError, match="STUDYLIB_CPU_KERNELS.*native.*avx2"):
        cpu_kernels.kernel_env()


def test_pin_keeps_settings_already_made_and_warns_after_torch(monkeypatch):
    import torch  # noqa: F401 (imported first, as a notebook that imports torch first does)

    monkeypatch.setattr(cpu_kernels, "kernel_env", lambda: dict(cpu_kernels.AVX2_KERNEL_ENV))
    for name in cpu_kernels.CPU_KERNEL_VARIABLES:
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
