"""The CPU kernels every training process uses: the processor's own, with MKL made repeatable.

PyTorch's CPU build picks its kernels by processor at run time: MKL (the matrix products of
linear layers, LAPACK's SVD behind the face model's nuclear norm) chooses a code path per
processor model, and its conditional numerical reproducibility mode (``MKL_CBWR``) decides
whether the result may also depend on memory alignment; ATen's own vectorised kernels
(reductions, activations, batch norm) follow ``ATEN_CPU_CAPABILITY``; oneDNN's convolutions
follow ``ONEDNN_MAX_CPU_ISA``.

The default, ``native``, leaves ATen and oneDNN to the processor (AVX-512 and AMX where it has
them) and sets ``MKL_CBWR=AUTO``: MKL's fastest path for this processor, with results that do
not depend on alignment, so that two processes on one machine write the same record bit for bit
(tests/test_determinism.py). A record made on another processor is then another draw: different
code paths round differently and a training run turns one rounding difference into a different
model, so ``python -m studylib.reproduce`` judges a re-run against its setting's seeds, not
against zero. ``STUDYLIB_CPU_KERNELS=avx2`` pins all three libraries to the AVX2 level instead
(:data:`AVX2_KERNEL_ENV`, what records made before 2026-12-07 used): it did not make records
identical across vendors (an Intel and an AMD processor still differed), and it cost speed, so it
is kept only to re-run such a record as it was made. The variables are read when the libraries
first compute, so they must be in the environment before the process's first tensor operation:
``import studylib`` calls :func:`pin_cpu_kernels` (this module imports nothing of studylib's, so
that it runs before anything imports torch), which warns, naming the variables, when torch was
imported first and one of them was not yet set. Records hold the settings in effect
(:func:`kernel_provenance`).
"""

from __future__ import annotations

import os
import sys
import warnings

#: The study's default: the processor's own kernels, MKL free of alignment effects.
NATIVE_KERNEL_ENV: dict[str, str] = {"MKL_CBWR": "AUTO"}
#: The former pin: one code path per library on every processor with AVX2, whatever more it has.
AVX2_KERNEL_ENV: dict[str, str] = {
    "MKL_CBWR": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}
#: Every variable either choice may set (recorded in provenance, None when unset).
CPU_KERNEL_VARIABLES: tuple[str, ...] = tuple(AVX2_KERNEL_ENV)
#: The choice: "native" (default) or "avx2".
CHOICE_ENV = "STUDYLIB_CPU_KERNELS"
CHOICES = ("native", "avx2")

#: What :func:`pin_cpu_kernels` did in this process (recorded in provenance).
_PIN_STATE: dict[str, object] = {}


def _cpu_flags() -> set[str]:
    """The processor's feature flags (Linux), or an empty set where they cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def kernel_choice() -> str:
    """``STUDYLIB_CPU_KERNELS`` ("native" when unset); anything else is a ValueError naming it."""
    choice = os.environ.get(CHOICE_ENV, "native").strip().lower() or "native"
    if choice not in CHOICES:
        raise ValueError(f"{CHOICE_ENV} must be one of {CHOICES}, got {choice!r}")
    return choice


def kernel_env(flags: set[str] | None = None, choice: str | None = None) -> dict[str, str]:
    """The settings :func:`pin_cpu_kernels` applies on this machine: :data:`NATIVE_KERNEL_ENV`,
    or with ``avx2`` :data:`AVX2_KERNEL_ENV` on an x86-64 processor with AVX2 (asking a library
    for AVX2 code on a processor without it would fail) and the native settings elsewhere."""
    choice = kernel_choice() if choice is None else choice
    if choice == "avx2":
        flags = _cpu_flags() if flags is None else flags
        if "avx2" in flags:
            return dict(AVX2_KERNEL_ENV)
    return dict(NATIVE_KERNEL_ENV)


def pin_cpu_kernels() -> dict[str, str]:
    """Put :func:`kernel_env`'s settings into ``os.environ`` where they are not set yet; return
    the settings now in effect. Warns when torch was imported before and a variable had to be
    set now: it may then be too late for a library that has already computed."""
    wanted = kernel_env()
    torch_first = "torch" in sys.modules
    added = [name for name in wanted if name not in os.environ]
    for name in added:
        os.environ[name] = wanted[name]
    if not _PIN_STATE:
        _PIN_STATE.update(torch_imported_first=torch_first and bool(added), added=added)
    if torch_first and added:
        warnings.warn(
            f"torch was imported before studylib: {', '.join(added)} set now may not reach "
            "kernels already chosen, so two processes may not write the same record; import "
            "studylib first or set " + " ".join(f"{n}={wanted[n]}" for n in added) + " in the "
            "environment",
            RuntimeWarning,
            stacklevel=2,
        )
    return {name: os.environ[name] for name in CPU_KERNEL_VARIABLES if name in os.environ}


def kernel_provenance() -> dict[str, object]:
    """The CPU kernel settings in effect in this process, for a record's provenance: the choice
    (``native`` or ``avx2``), the three variables (None when unset), ATen's capability as torch
    reports it, the processor's model and vector extensions, the BLAS threads, and whether torch
    was imported before the settings were made (then they may not have reached every kernel)."""
    import torch

    info = _cpu_identity()
    flags = _cpu_flags()
    return {
        "choice": kernel_choice(),
        **{name: os.environ.get(name) for name in CPU_KERNEL_VARIABLES},
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
        "pinned_after_torch_import": bool(_PIN_STATE.get("torch_imported_first", False)),
        "cpu_model": info,
        "cpu_vector_isa": sorted(
            f for f in flags if f in ("avx", "avx2", "fma") or f.startswith(("avx512", "amx"))
        ),
        "mkl_version": _library_version("Math Kernel Library Version"),
        "onednn_version": _library_version("MKL-DNN v"),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def _cpu_identity() -> str | None:
    """The processor as "vendor family F model M stepping S" from /proc/cpuinfo (the model name
    alone does not tell processor generations apart on some virtual machines)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("vendor_id", "cpu family", "model", "stepping") and key not in fields:
                    fields[key] = value.strip()
                if not line.strip():
                    break
    except OSError:
        return None
    if not fields:
        return None
    return (
        f"{fields.get('vendor_id', '?')} family {fields.get('cpu family', '?')} "
        f"model {fields.get('model', '?')} stepping {fields.get('stepping', '?')}"
    )


def _library_version(marker: str) -> str | None:
    import torch

    for line in torch.__config__.show().splitlines():
        if marker in line:
            rest = line.split(marker, 1)[1].strip()
            return rest.split()[0] if rest else None
    return None
