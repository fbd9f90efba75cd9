"""studylib: a reproducible study of attention modules for keypoint localisation."""

from studylib.cpu_kernels import pin_cpu_kernels as _pin_cpu_kernels

__version__ = "0.1.0"

# Before anything imports torch: set the CPU kernels' choices (the processor's own, MKL free of
# alignment effects), so that two processes on one machine compute alike (studylib.cpu_kernels
# says how; STUDYLIB_CPU_KERNELS=avx2 pins the AVX2 code paths older records were made with).
_pin_cpu_kernels()
