"""studylib: a reproducible study of attention modules for keypoint localisation."""

from studylib.cpu_kernels import pin_cpu_kernels as _pin_cpu_kernels

__version__ = "0.1.0"

# Before anything imports torch: pin the CPU kernels' code paths (MKL, ATen, oneDNN), so that a
# run's numbers do not depend on which processor model it ran on (studylib.cpu_kernels says how;
# STUDYLIB_PIN_CPU_KERNELS=0 leaves the choice to the processor).
_pin_cpu_kernels()
