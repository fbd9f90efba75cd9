"""Robustness: how each trained model's score changes with occlusion and clutter, both tracks.

The models are the ablations' own runs (no new training): on the pose track the hourglass
without attention and ACNN (A-B-C) of the freezing ablation, on the face track ODN and the
attentioned module (r = 8) of the reduction-ratio ablation. Each is scored on synthetic test sets
that differ from the training distribution in one difficulty knob at a time (:data:`SWEEPS`): the
occluders, the background clutter and, for pose, the distractor people (the "redundant regions"
ACNN says its masks filter out). Every test set of a knob level is the same for every model, so
two models are compared sample by sample at each level (:func:`paired`).

A sweep writes a run record of its own, ``results/robustness/<dataset>/<track>-<setting>/seed<k>/``:
``config.json`` (the source run's folder and config and the sweep), ``metrics.json`` (one row per
knob and level: the headline metrics), ``per_sample.csv`` (per-sample errors at every level) and
provenance. A finished sweep is not evaluated again; the model comes from the source run's
checkpoint, and a source run without one (records from git carry none) is trained again first.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from studylib import compare, face, floors, pose, results, stats
from studylib.config import FaceConfig, PoseConfig
from studylib.data.dataset import KeypointSet
from studylib.experiments import freezing, reduction_ratio
from studylib.experiments.base import Experiment
from studylib.io import read_json
from studylib.train import CHECKPOINT, process_device

ABLATION = "robustness"


@dataclass(frozen=True)
class Track:
    """What a sweep needs to know about one track."""

    name: str
    ablation: str  # where the source runs live
    settings: tuple[str, ...]  # the source settings swept: the baseline, then the attention model
    sweeps: dict[str, tuple[float, ...]]  # knob -> levels (the training level among them)
    metrics: tuple[str, ...]  # headline metrics kept per level
    score: str  # the per-sample score compared between settings
    wording: dict  # how studylib.compare.describe words a difference (which way is better)
    run: Callable[..., Path]
    load_model: Callable[[Path], tuple[torch.nn.Module, Any]]
    test_set: Callable[[Any, dict], KeypointSet]
    evaluate: Callable[[torch.nn.Module, Any, KeypointSet, torch.device], tuple[dict, pd.DataFrame]]
    floor: Callable[[torch.nn.Module, Any, KeypointSet, KeypointSet], dict] | None = None
    dataset: str = "synthetic"  # the data the source runs trained and test on
    overrides: tuple[tuple[str, Any], ...] = ()  # the source configs' settings beyond the profile


def _pose_test_set(config: PoseConfig, synth: dict) -> KeypointSet:
    return pose.synthetic_pose_set(
        "test", config.num_test, config.image_size, config.data_seed, synth
    )


def _pose_evaluate(model, config: PoseConfig, data: KeypointSet, device: torch.device):
    task = pose.PoseTask(
        flip_permutation=torch.from_numpy(data.spec.flip_permutation()),
        stride=model.stride,
        sigma=config.sigma,
        flip_test=config.flip_test,
    )
    return task.evaluate(model.to(device), data, device)


def _pose_floor(model, config: PoseConfig, train_set: KeypointSet, data: KeypointSet) -> dict:
    """The constant pose's scores on one level's test set, as a pose record keeps them."""
    return {
        "floor": pose.pose_floor(train_set, data, model.stride, config.sigma, config.num_stacks)
    }


def _face_floor(model, config: FaceConfig, train_set: KeypointSet, data: KeypointSet) -> dict:
    """The mean shape's NME on one level's test set, as a face record keeps it."""
    return {"nme_mean_shape": face.mean_shape_nme(train_set, data)}


def _face_test_set(config: FaceConfig, synth: dict) -> KeypointSet:
    return face.synthetic_face_set(
        "test", config.num_test, config.image_size, config.data_seed, synth
    )


def _pasted_face_test_set(config: FaceConfig, knobs: dict) -> KeypointSet:
    """The real test faces with occluders pasted over ``occluded_area`` of each face box."""
    from studylib.data.occlude import paste_occluders

    test_set = face.load_face_data(config)[1]
    return paste_occluders(test_set, knobs["occluded_area"], seed=config.data_seed)


def _face_evaluate(model, config: FaceConfig, data: KeypointSet, device: torch.device):
    task = face.FaceTask(
        flip_permutation=torch.from_numpy(data.spec.flip_permutation()),
        input_size=config.image_size,
    )
    return task.evaluate(model.to(device), data, device)


TRACKS: dict[str, Track] = {
    "pose": Track(
        name="pose",
        ablation=freezing.ABLATION,
        settings=("no-attention", "acnn-A-B-C"),
        sweeps={
            "occlusion": (0.0, 0.7, 1.5, 3.0),
            "clutter": (0.0, 0.3, 0.6, 1.0),
            "distractors": (0.0, 0.8, 2.0, 4.0),
        },
        metrics=("pckh", "pckh_visible", "pckh_occluded"),
        score="Total",
        wording=pose.PCKH_WORDING,
        run=pose.run_pose,
        load_model=pose.load_run_model,
        test_set=_pose_test_set,
        evaluate=_pose_evaluate,
        floor=_pose_floor,
    ),
    "face": Track(
        name="face",
        ablation="reduction_ratio",
        settings=("odn", "adm-r8"),
        sweeps={"occlusion": (0.0, 0.6, 1.5, 3.0), "clutter": (0.0, 0.5, 1.0)},
        metrics=("nme", "nme_visible", "nme_occluded"),
        score="nme",
        wording=face.NME_WORDING,
        run=face.run_face,
        load_model=face.load_run_model,
        test_set=_face_test_set,
        evaluate=_face_evaluate,
        floor=_face_floor,
    ),
}
# The occlusion test on real faces (COFW-like): the face track's models trained on 300-W, scored
# on its test faces (which carry no occlusion labels) with occluders pasted over a growing share
# of each face (studylib.data.occlude).
TRACKS["face-occluders"] = dataclasses.replace(
    TRACKS["face"],
    name="face-occluders",
    sweeps={"occluded_area": (0.0, 0.1, 0.2, 0.3, 0.4)},
    test_set=_pasted_face_test_set,
    dataset="300w",
    overrides=tuple(face.REAL_300W_RUNS.items()),  # as `make study-real` trains them
)


def tracks_on(dataset: str = "synthetic") -> list[str]:
    """The tracks whose source runs trained on ``dataset``."""
    return [name for name, spec in TRACKS.items() if spec.dataset == dataset]


def source_configs(
    track: str, profile: str, **overrides: Any
) -> dict[str, PoseConfig | FaceConfig]:
    """The source runs' configs at a profile: exactly the configs the ablation notebooks train
    (so their records and checkpoints are reused), with ``overrides`` on top."""
    if track == "pose":
        base = freezing.base_config(profile, **overrides)
        return freezing.configs(base, TRACKS["pose"].settings)
    if track in ("face", "face-occluders"):
        spec = TRACKS[track]
        defaults = {"dataset": spec.dataset, **dict(spec.overrides)}
        base = FaceConfig.from_profile(profile, **{**defaults, **overrides})
        settings = reduction_ratio.settings()
        return face.configs(base, {name: settings[name] for name in spec.settings})
    raise ValueError(f"track must be one of {list(TRACKS)}, got {track!r}")


def training_levels(track: str, config: PoseConfig | FaceConfig) -> dict[str, float]:
    """Each swept knob's value in the source run's training data (its synth knobs or their
    defaults), where the curves cross the training distribution."""
    from studylib.data.synthetic_face import FaceSynthConfig
    from studylib.data.synthetic_pose import PoseSynthConfig

    knobs = (PoseSynthConfig if track == "pose" else FaceSynthConfig)(**config.synth)
    # A knob the training data does not have (pasted occluders on real faces) was 0 in training.
    return {knob: float(getattr(knobs, knob, 0.0)) for knob in TRACKS[track].sweeps}


def sweep(
    track: str,
    config: PoseConfig | FaceConfig,
    root: str | Path,
    setting: str,
    *,
    force: bool = False,
) -> Path:
    """Score the source run (``setting`` of the track's ablation, with ``config``) at every knob
    level of the track's sweeps and write the sweep's record; return its folder."""
    spec = TRACKS[track]
    if config.dataset != spec.dataset:
        raise ValueError(
            f"the {track!r} sweeps score models trained on {spec.dataset!r}; the config's dataset "
            f"must be {spec.dataset!r}, got {config.dataset!r}"
        )
    source = results.run_dir(root, spec.ablation, config.dataset, setting, config.seed)
    folder = results.run_dir(root, ABLATION, config.dataset, f"{track}-{setting}", config.seed)
    record_config = {
        "track": track,
        "source": str(Path(spec.ablation, config.dataset, setting, f"seed{config.seed}")),
        "source_config": config.to_dict(),
        "sweeps": {knob: list(levels) for knob, levels in spec.sweeps.items()},
    }
    if not force and results.is_complete(folder, record_config):
        return folder
    spec.run(config, root, spec.ablation, setting)  # reuses a finished run
    if not (source / CHECKPOINT).is_file():
        spec.run(config, root, spec.ablation, setting, force=True)  # records from git: retrain
    model, _ = spec.load_model(source)
    device = process_device(config.device)
    begin = time.perf_counter()
    # The floors are the trivial predictor's scores on each level's test set (the training set's
    # mean pose or shape), so that the learning gate can be applied level by level.
    train_set = (pose.load_pose_data if track == "pose" else face.load_face_data)(config)[0]
    rows, per_sample = [], []
    for knob, levels in spec.sweeps.items():
        for level in levels:
            data = spec.test_set(config, {**config.synth, knob: level})
            metrics, samples = spec.evaluate(model, config, data, device)
            rows.append(
                {
                    "knob": knob,
                    "level": level,
                    **{m: metrics[m] for m in spec.metrics},
                    "occluded_fraction": float(data.occluded[data.valid].mean()),
                    **(spec.floor(model, config, train_set, data) if spec.floor else {}),
                }
            )
            per_sample.append(samples.assign(knob=knob, level=level))
    prov = results.provenance(device, time.perf_counter() - begin)
    return results.write_record(
        folder,
        record_config,
        {"curve": rows},
        pd.DataFrame(),
        pd.concat(per_sample, ignore_index=True),
        prov,
    )


# --------------------------------------------------------------------------- reading the records


def find_runs(root: str | Path, dataset: str = "synthetic") -> dict[str, list[Path]]:
    """The sweeps' records by ``<track>-<setting>``, in :data:`TRACKS` order."""
    return EXPERIMENT.find_runs(root, dataset)


def curves(runs: Iterable[str | Path]) -> pd.DataFrame:
    """One row per sweep record, knob and level: track, setting (the source's), seed, knob,
    level, the track's headline metrics and the share of occluded keypoints."""
    rows = []
    for folder in map(Path, runs):
        keys = results.run_keys(folder)
        track = read_json(folder / "config.json")["track"]
        setting = keys["setting"][len(track) + 1 :]
        for row in read_json(folder / "metrics.json")["curve"]:
            rows.append({"track": track, "setting": setting, "seed": keys["seed"], **row})
    return pd.DataFrame(rows)


def curve_intervals(frame: pd.DataFrame, metric: str, scale: float = 100.0) -> pd.DataFrame:
    """Mean, low, high (Student-t 95% over seeds) and n of ``metric`` x ``scale`` per setting,
    knob and level (for :func:`studylib.plots.plot_robustness`)."""
    rows = []
    for (setting, knob, level), group in frame.groupby(["setting", "knob", "level"], sort=False):
        interval = stats.mean_ci(scale * group[metric])
        rows.append(
            {
                "setting": setting,
                "knob": knob,
                "level": level,
                "mean": interval.estimate,
                "low": interval.low,
                "high": interval.high,
                "n": interval.n,
            }
        )
    return pd.DataFrame(rows)


def curve_table(
    frame: pd.DataFrame, metric: str, scale: float = 100.0, digits: int = 1
) -> pd.DataFrame:
    """``metric`` x ``scale`` as "mean ± half-width" over seeds: one row per knob and level, one
    column per setting, and a ``floor`` column (the trivial predictor's score on that level's
    test set) for the headline metric where the records hold it."""
    cells = {}
    for (knob, level, setting), group in frame.groupby(["knob", "level", "setting"], sort=False):
        cells.setdefault((knob, level), {})[setting] = stats.mean_ci(scale * group[metric]).format(
            digits
        )
        floor = level_floor(group.iloc[0], metric)
        if floor is not None:
            cells[(knob, level)]["floor"] = f"{scale * floor:.{digits}f}"
    table = pd.DataFrame.from_dict(cells, orient="index")
    table.index.names = ["knob", "level"]
    return table


def level_floor(row: pd.Series, metric: str) -> float | None:
    """The floor of ``metric`` in one curve row: the constant pose's PCKh (``pckh``) or the mean
    shape's NME (``nme``); None for other metrics and for records made before floors."""
    if metric == "pckh" and isinstance(row.get("floor"), dict):
        return float(row["floor"]["pckh"])
    if metric == "nme" and pd.notna(row.get("nme_mean_shape", float("nan"))):
        return float(row["nme_mean_shape"])
    return None


def level_gates(frame: pd.DataFrame) -> dict[tuple[str, float], tuple[bool, str]]:
    """The learning gate (:func:`studylib.floors.gate`) at every knob and level of a track's
    curves (:func:`curves`): whether every model scored there cleared its floor on that level's
    test set. A level whose records hold no floor does not pass."""
    gates = {}
    for (knob, level), rows in frame.groupby(["knob", "level"], sort=False):
        records = [
            {key: value for key, value in row.items() if not _missing(value)}
            for row in rows.to_dict("records")
        ]
        gates[(knob, float(level))] = floors.gate(records)
    return gates


def _missing(value: Any) -> bool:
    return not isinstance(value, dict) and pd.isna(value)


def paired(runs: Iterable[str | Path], track: str) -> pd.DataFrame:
    """At every knob level, the track's attention model against its baseline (the first
    setting) on the same test samples (:func:`studylib.compare.paired_differences`; PCKh points
    or NME points), with columns knob and level added."""
    spec = TRACKS[track]
    runs = [Path(f) for f in runs if read_json(Path(f) / "config.json")["track"] == track]
    if not runs:
        return pd.DataFrame()
    frame = results.load_csvs(runs, "per_sample.csv")
    frame["setting"] = frame["setting"].str[len(track) + 1 :]
    if track == "pose":
        scores = pose.pckh_shares(frame, keys=("setting", "seed", "knob", "level"))
    else:
        scores = frame.assign(nme=100 * frame["nme"])
    out = []
    for (knob, level), rows in scores.groupby(["knob", "level"], sort=False):
        if rows["setting"].nunique() < 2:
            continue
        differences = compare.paired_differences(rows, spec.settings[0], [spec.score])
        out.append(differences.assign(knob=knob, level=level))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def paired_table(differences: pd.DataFrame, track: str) -> pd.DataFrame:
    """:func:`paired` as "+d [low, high] (seeds [low, high])", one row per knob and level."""
    relabelled = differences.assign(
        setting=[f"{k} = {v:g}" for k, v in differences[["knob", "level"]].to_numpy()],
        column=differences["setting"] + " - " + differences["against"],
    )
    table = compare.difference_table(relabelled, TRACKS[track].wording["digits"])
    table.index.name = "knob level"
    return table


def describe(differences: pd.DataFrame, track: str, curves: pd.DataFrame | None = None) -> str:
    """Per knob, a sentence on the attention model's difference from its baseline at the easiest
    and the hardest level, worded by where the intervals lie (:func:`studylib.compare.describe`).
    With the track's ``curves``, a level where a model did not clear its floor
    (:func:`level_gates`) says "no evidence" instead of reading the difference."""
    if differences.empty:
        return "No sweep of this track was found."
    spec = TRACKS[track]
    gates = {} if curves is None else level_gates(curves[curves["track"] == track])

    def reading(row: pd.Series) -> str:
        passed, why = gates.get((row["knob"], float(row["level"])), (True, ""))
        if not passed:
            return f"{floors.NO_EVIDENCE}, models at floor ({why})"
        return compare.describe(row, **spec.wording).split(": ", 1)[1].rstrip(".")

    lines = []
    for knob, rows in differences.groupby("knob", sort=False):
        rows = rows.sort_values("level")
        ends = [rows.iloc[0], rows.iloc[-1]]
        parts = [f"at {knob} = {row['level']:g}: " + reading(row) for row in ends]
        lines.append(
            f"- **{knob}**, {spec.settings[1]} against {spec.settings[0]}: "
            + "; ".join(parts)
            + "."
        )
    return "\n".join(lines)


# The sweeps train nothing of their own: they score the ablations' trained models, and the study
# makes them again whenever it runs (evaluates).
EXPERIMENT = Experiment(
    "robustness",
    ABLATION,
    "",
    evaluates=True,
    order=lambda: [f"{t.name}-{s}" for t in TRACKS.values() for s in t.settings],
)
