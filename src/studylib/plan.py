"""The training runs each experiment notebook makes, known before it runs, and a pool that trains
them side by side.

The notebooks train their runs one after the other, and the study used to give each notebook a
lane: the pose lane (nine long runs) then ran long after the face lane (36 short ones) had
finished, with one core idle. The study now first trains every notebook's runs in one pool of
``lanes`` processes, longest first, and then executes the notebooks, which find each run's record
and only read it. A run trained in the pool is the very run its notebook would train: the same
config, built by the same functions from the notebook's default parameters (:data:`DEFAULTS`,
checked against the notebooks by ``tests/test_plan.py``), and the same ``run_pose`` /
``run_face``; a run the pool does not know (a notebook given other parameters) is trained by the
notebook itself, as before.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from studylib.config import FaceConfig, PoseConfig, seeds_for

#: The default parameters of the notebooks that train (as their ``parameters`` cells set them),
#: beyond the profile's config; the study passes the real-data runs' overrides on top.
DEFAULTS: dict[str, dict[str, Any]] = {
    "freezing_phases": {"settings": None},
    "reduction_ratio": {"reduction_ratios": [8, 16, 32, 64], "pooling_ablation": True},
    "attention_order": {
        "orders": [
            "channel-spatial",
            "spatial-channel",
            "parallel",
            "channel",
            "spatial",
            "none",
        ],
        "reduction_ratio": 8,
    },
}


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


def planned_runs(notebook: str, profile: str, seeds=None, **parameters: Any) -> list[PlannedRun]:
    """The runs ``notebook`` trains at ``profile`` with its default parameters updated by
    ``parameters`` (``dataset``, ``num_train``, ... as papermill would pass them). A run that the
    notebook links from another experiment (the attention-order ablation's ``channel-spatial`` is
    the reduction-ratio ablation's ``adm-r8``) is planned only where it is trained."""
    from studylib import face, freezing

    params = {**DEFAULTS.get(notebook, {}), **parameters}
    seeds = seeds_for(profile, seeds)
    if notebook == "freezing_phases":
        settings = params.pop("settings")
        configs = freezing.configs(freezing.base_config(profile, **params), settings)
        track, ablation = "pose", freezing.ABLATION
    elif notebook == "reduction_ratio":
        ratios, pooling = params.pop("reduction_ratios"), params.pop("pooling_ablation")
        base = FaceConfig.from_profile(profile, **params)
        configs = face.configs(base, face.reduction_ratio_settings(ratios, pooling))
        track, ablation = "face", "reduction_ratio"
    elif notebook == "attention_order":
        orders, ratio = params.pop("orders"), params.pop("reduction_ratio")
        base = FaceConfig.from_profile(profile, **params)
        configs = face.configs(base, face.attention_order_settings(orders, ratio))
        configs.pop("channel-spatial", None)  # trained by the reduction-ratio ablation
        track, ablation = "face", "attention_order"
    else:
        return []  # the notebook trains nothing of its own
    return [
        PlannedRun(track, config.replace(seed=seed), ablation, setting)
        for setting, config in configs.items()
        for seed in seeds
    ]


def _train(run: PlannedRun, root: str, force: bool) -> tuple[str, float]:
    started = time.perf_counter()
    run.train(root, force=force)
    return run.label, time.perf_counter() - started


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
        for count, future in enumerate(as_completed(futures), start=1):
            error = future.exception()
            if error is not None:
                for other in futures:
                    other.cancel()  # the runs in progress finish and keep their records
                raise error
            label, seconds = future.result()
            log(f"[study] run {count}/{len(order)} {label} in {seconds:.0f} s", flush=True)
    log(
        f"[study] {len(order)} runs trained in {(time.perf_counter() - started) / 60:.1f} min",
        flush=True,
    )
