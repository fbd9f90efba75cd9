"""Trivial floors and the learning gate: a model that does not beat a constant is not evidence.

Every run record holds the score of a predictor that ignores the image, on the run's own test
set (written by the tracks: :func:`studylib.pose.pose_floor`, :func:`studylib.face.mean_shape_nme`):

- pose: ``metrics["floor"]``, the training set's mean pose (in the crop frame) predicted for every
  test image: ``pckh``, ``pckh_auc``, ``mean_error`` (and ``pck_torso_0.2`` where the data has
  torso sizes), plus ``heatmap_loss``, the training loss of the best constant heatmap (the mean
  target, on every stage), to set beside the training loss;
- faces: ``metrics["nme_mean_shape"]``, the training set's mean shape predicted for every face.

A comparison gets a verdict only when every run in it clears its floor by :data:`POSE_MARGIN`
points of PCKh@0.5 (pose) or reaches :data:`FACE_RATIO` times the mean-shape NME (faces).
Why these margins: the constant pose already scores 10-15% PCKh@0.5 on our test sets (the
figures are centred and scaled), so a model within a few points of it may have learnt the
crop's layout and nothing about the image; 25 points above it the model has found most joints
that the constant misses. For faces the mean shape's NME is what a model pays for ignoring the
face; halving it means that pose and shape, the largest variations, were read from the image.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Points of PCKh@0.5 (Total) a pose run must score above its constant-pose floor.
POSE_MARGIN = 25.0
#: A face run's NME must be at most this share of its mean-shape NME.
FACE_RATIO = 0.5
#: The ledger's word for a comparison whose runs did not all clear their floors.
NO_EVIDENCE = "no evidence"


@dataclass(frozen=True)
class Clearance:
    """Whether one run cleared its floor, and a sentence that says by how much."""

    cleared: bool
    score: float
    floor: float
    reason: str


def clearance(metrics: Mapping[str, Any]) -> Clearance:
    """Whether a run's ``metrics.json`` (a dict) clears its floor by the gate's margin.

    A pose record is one with ``pckh``; a face record one with ``nme``. A record without its
    floor (written before floors existed) does not clear: there is nothing to clear.
    """
    if "pckh" in metrics:
        score = float(metrics["pckh"])
        floor = float((metrics.get("floor") or {}).get("pckh", np.nan))
        need = floor + POSE_MARGIN
        cleared = bool(np.isfinite(floor) and score >= need)
        return Clearance(
            cleared,
            score,
            floor,
            f"PCKh@0.5 {score:.1f} against a constant-pose floor of {floor:.1f} "
            f"(gate: >= {need:.1f})",
        )
    if "nme" in metrics:
        score = float(metrics["nme"])
        floor = float(metrics.get("nme_mean_shape", np.nan))
        need = FACE_RATIO * floor
        cleared = bool(np.isfinite(floor) and score <= need)
        return Clearance(
            cleared,
            score,
            floor,
            f"NME {score:.4g} against a mean-shape floor of {floor:.4g} (gate: <= {need:.4g})",
        )
    raise ValueError(
        f"metrics hold neither 'pckh' (pose) nor 'nme' (faces); keys: {sorted(metrics)}"
    )


def gate(records: Iterable[Mapping[str, Any]]) -> tuple[bool, str]:
    """Whether every run of a comparison cleared its floor, and a sentence naming those that did
    not (``records``: their ``metrics.json`` dicts, each optionally with ``setting`` and ``seed``
    keys to name it). An empty comparison does not pass."""
    records = list(records)
    if not records:
        return False, "no runs"
    failed = [(r, clearance(r)) for r in records]
    failed = [(r, c) for r, c in failed if not c.cleared]
    if not failed:
        return True, f"all {len(records)} runs cleared their floors"
    named = "; ".join(
        f"{r.get('setting', '?')} seed {r.get('seed', '?')}: {c.reason}" for r, c in failed[:4]
    )
    more = f" and {len(failed) - 4} more" if len(failed) > 4 else ""
    return False, f"{len(failed)} of {len(records)} runs did not clear the gate ({named}{more})"
