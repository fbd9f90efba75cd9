"""studylib: a reproducible study of attention modules for keypoint localisation."""

__version__ = "0.1.0"
