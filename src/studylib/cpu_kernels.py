"""The CPU kernels every training process uses, pinned to one code path per library.

PyTorch's CPU build picks its kernels by processor at run time: MKL
(the matrix products of linear layers, LAPACK's SVD behind the face model's nuclear norm)
chooses a code path per processor model unless its conditional numerical reproducibility mode
(``MKL_CBWR``) names one; ATen's own vectorised kernels (reductions, activations, batch norm)
follow ``ATEN_CPU_CAPABILITY``; oneDNN's convolutions follow ``ONEDNN_MAX_CPU_ISA``. Different
code paths round differently, and a training run turns one rounding difference into a
different model. :func:`pin_cpu_kernels` sets all three to the AVX2 level
(:data:`CPU_KERNEL_ENV`), which every x86-64 server of the last decade has, unless the
environment already sets them. It is on by default; ``STUDYLIB_PIN_CPU_KERNELS=0`` leaves the
choice to the processor (to measure its effect). On this project's AVX2 machines the pin leaves
ATen and oneDNN where they were and changes only MKL's rounding, which reaches the face models
(a face record moves in the fourth decimal of its NME) and ACNN's mask heads at the quick
profile's shapes (a 12-step ACNN run's loss differs in the fifth digit), not the plain hourglass
(its records are identical pinned or not), all measured: every synthetic record was made again
with it. ``import studylib`` calls it (this module imports nothing of
studylib's, so that it runs before anything imports torch). The variables are read when
the libraries first compute, so they must be in the environment before the process's first
tensor operation;
:func:`pin_cpu_kernels` warns, naming the variables, when torch was imported first and one of
them was not yet set. Records hold the settings in effect (:func:`kernel_provenance`).
"""

from __future__ import annotations

import os
import sys
import warnings

#: The kernel choices pinned for every training process: one code path per library on every
#: processor that has AVX2, whatever more it has (AVX-512, AMX) and whichever model it is.
CPU_KERNEL_ENV: dict[str, str] = {
    "MKL_CBWR": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}
#: Set to "0" to leave the kernel choices to the processor (e.g. to measure their effect); any
#: other value, or none, pins them.
PIN_ENV = "STUDYLIB_PIN_CPU_KERNELS"

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


def kernel_env(flags: set[str] | None = None) -> dict[str, str]:
    """The settings :func:`pin_cpu_kernels` applies on this machine: :data:`CPU_KERNEL_ENV` on an
    x86-64 processor with AVX2 (asking a library for AVX2 code on a processor without it would
    fail), none elsewhere, and none when ``STUDYLIB_PIN_CPU_KERNELS=0``."""
    if os.environ.get(PIN_ENV, "1").strip() == "0":
        return {}
    flags = _cpu_flags() if flags is None else flags
    return dict(CPU_KERNEL_ENV) if "avx2" in flags else {}


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
            "kernels already chosen, and results may then differ between processors; import "
            "studylib first or set " + " ".join(f"{n}={wanted[n]}" for n in added) + " in the "
            "environment",
            RuntimeWarning,
            stacklevel=2,
        )
    return {name: os.environ[name] for name in CPU_KERNEL_ENV if name in os.environ}


def kernel_provenance() -> dict[str, object]:
    """The CPU kernel settings in effect in this process, for a record's provenance: the three
    variables (None when unset), ATen's capability as torch reports it, the processor's model and
    vector extensions, the BLAS threads, and whether torch was imported before the settings were
    made (then they may not have reached every kernel)."""
    import torch

    info = _cpu_identity()
    flags = _cpu_flags()
    return {
        **{name: os.environ.get(name) for name in CPU_KERNEL_ENV},
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
