"""A planned training run, and a pool that trains many side by side.

The notebooks train their runs one after the other, and the study used to give each notebook a
lane: the pose lane (nine long runs) then ran long after the face lane (36 short ones) had
finished, with one core idle. The study now first trains every notebook's runs in one pool of
``lanes`` processes, longest first, and then executes the notebooks, which find each run's record
and only read it. A run trained in the pool is the very run its notebook would train: the same
config, built by the same functions from the notebook's default parameters
(:meth:`studylib.experiments.Experiment.runs`), and the same ``run_pose`` / ``run_face``; a run the
pool does not know (a notebook given other parameters) is trained by the notebook itself.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from studylib.config import FaceConfig, PoseConfig


@dataclass(frozen=True)
class PlannedRun:
    """One training run: its track (``"pose"`` or ``"face"``), config and record folder's names."""

    track: str
    config: PoseConfig | FaceConfig
    ablation: str
    setting: str

    @property
    def label(self) -> str:
        return f"{self.ablation}/{self.config.dataset}/{self.setting}/seed{self.config.seed}"

    def train(self, root: str | Path, force: bool = False) -> Path:
        """Train the run (or keep its finished record unless ``force``); its record's folder."""
        from studylib import face, pose

        run = pose.run_pose if self.track == "pose" else face.run_face
        return run(self.config, root, self.ablation, self.setting, force=force, progress=False)

    def cost(self) -> float:
        """A rough relative cost (images seen times pixels), to start the longest runs first."""
        c = self.config
        return c.num_train * c.epochs * c.image_size**2 * (4.0 if self.track == "pose" else 1.0)


def _train(run: PlannedRun, root: str, force: bool) -> tuple[str, float, bool]:
    """Train one run in a pool process: its label, seconds, and whether it was already finished."""
    from studylib import results

    folder = results.run_dir(root, run.ablation, run.config.dataset, run.setting, run.config.seed)
    kept = not force and results.is_complete(folder, run.config.to_dict())
    started = time.perf_counter()
    run.train(root, force=force)
    return run.label, time.perf_counter() - started, kept


def train_all(
    runs: list[PlannedRun], root: str | Path, *, lanes: int, force: bool, log=print
) -> None:
    """Train ``runs`` in ``lanes`` processes, the costliest first; stop at the first failure
    (runs already finished keep their records; an interrupted one resumes from its checkpoint)."""
    if not runs:
        return
    order = sorted(runs, key=PlannedRun.cost, reverse=True)
    started = time.perf_counter()
    if lanes > 1:
        # Each process one thread: two one-thread processes keep two cores busy (see study.py).
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(max_workers=lanes, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_train, run, str(root), force) for run in order]
        trained = 0
        for count, future in enumerate(as_completed(futures), start=1):
            error = future.exception()
            if error is not None:
                for other in futures:
                    other.cancel()  # the runs in progress finish and keep their records
                raise error
            label, seconds, kept = future.result()
            trained += not kept
            done = "kept (its record holds this config)" if kept else f"trained in {seconds:.0f} s"
            log(f"[study] run {count}/{len(order)} {label}: {done}", flush=True)
    minutes = (time.perf_counter() - started) / 60
    log(
        f"[study] {len(order)} runs ({trained} trained, the others kept) in {minutes:.1f} min",
        flush=True,
    )
