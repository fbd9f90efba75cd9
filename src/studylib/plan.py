"""A planned training run, and a pool that trains many side by side.

The notebooks train their runs one after the other, and the study used to give each notebook a
lane: the pose lane (nine long runs) then ran long after the face lane (36 short ones) had
finished, with one core idle. The study now first trains every notebook's runs in one pool of
``lanes`` processes, longest first, and then executes the notebooks, which find each run's record
and only read it. A run trained in the pool is the very run its notebook would train: the same
config, built by the same functions from the notebook's default parameters
(:meth:`studylib.experiments.Experiment.runs`), and the same ``run_pose`` / ``run_face``; a run the
pool does not know (a notebook given other parameters) is trained by the notebook itself.

On a machine with several GPUs each lane is a process that sees one of them
(``CUDA_VISIBLE_DEVICES``): one run per GPU at once, as many lanes as devices
(:func:`lane_devices`).
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

    def folder(self, root: str | Path) -> Path:
        """Where the run's record goes under the results root ``root``."""
        from studylib import results

        return results.run_dir(
            root, self.ablation, self.config.dataset, self.setting, self.config.seed
        )

    def is_finished(self, root: str | Path) -> bool:
        """Whether ``root`` holds the run's finished record, of this very config."""
        from studylib import results

        return results.is_complete(self.folder(root), self.config.to_dict())

    def train(self, root: str | Path, force: bool = False) -> Path:
        """Train the run (or keep its finished record unless ``force``); its record's folder."""
        from studylib import face, pose

        run = pose.run_pose if self.track == "pose" else face.run_face
        return run(self.config, root, self.ablation, self.setting, force=force, progress=False)

    def cost(self) -> float:
        """A rough relative cost (images seen times pixels), to start the longest runs first.
        The epochs are those of every phase (ACNN's phased schedules add a mask phase)."""
        c = self.config
        epochs = sum(phase.epochs for phase in c.phases())
        return c.num_train * epochs * c.image_size**2 * (4.0 if self.track == "pose" else 1.0)


def _train(run: PlannedRun, root: str, force: bool) -> tuple[str, float, bool]:
    """Train one run in a pool process: its label, seconds, and whether it was already finished."""
    kept = not force and run.is_finished(root)
    started = time.perf_counter()
    run.train(root, force=force)
    return run.label, time.perf_counter() - started, kept


def lane_devices(lanes: int, gpus: int) -> list[str] | None:
    """The GPU each lane's process sees (``CUDA_VISIBLE_DEVICES``), or None to leave the
    devices alone (a CPU, or a single GPU that every lane shares). With several GPUs the lanes
    take them in turn: lane i sees GPU i mod ``gpus``."""
    if gpus < 2:
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [i.strip() for i in visible.split(",")] if visible else [str(i) for i in range(gpus)]
    return [ids[lane % len(ids)] for lane in range(lanes)]


def _take_device(devices) -> None:
    """Pool initializer: this process sees only the next lane's GPU. It runs before the process
    has touched CUDA (a spawned process, before its first task), so the setting holds."""
    os.environ["CUDA_VISIBLE_DEVICES"] = devices.get()


def lane_pool(lanes: int, devices: list[str] | None = None) -> ProcessPoolExecutor:
    """A pool of ``lanes`` fresh (spawned) processes; with ``devices``, the i-th process to start
    sees only ``devices[i]``."""
    context = get_context("spawn")
    if devices is None:
        return ProcessPoolExecutor(max_workers=lanes, mp_context=context)
    queue = context.Queue()  # handed to each process as it starts
    for device in devices:
        queue.put(device)
    return ProcessPoolExecutor(
        max_workers=lanes, mp_context=context, initializer=_take_device, initargs=(queue,)
    )


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def train_all(
    runs: list[PlannedRun], root: str | Path, *, lanes: int, force: bool, log=print
) -> None:
    """Train ``runs`` in ``lanes`` processes, the costliest first; stop at the first failure
    (runs already finished keep their records; an interrupted one resumes from its checkpoint).
    With several GPUs each lane trains on its own (:func:`lane_devices`)."""
    if not runs:
        return
    order = sorted(runs, key=PlannedRun.cost, reverse=True)
    started = time.perf_counter()
    if lanes > 1:
        # On a CPU each process one thread: two one-thread processes keep two cores busy (see
        # study.py); on GPUs the threads only feed the device.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    devices = lane_devices(lanes, _gpu_count())
    if devices is not None:
        log(f"[study] {lanes} lanes on GPUs {', '.join(devices)}", flush=True)
    with lane_pool(lanes, devices) as pool:
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
