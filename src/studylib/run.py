"""One run: the driver both tracks train through (:func:`train_run`), and its command line, on
one process or several (``torchrun``).

    python -m studylib.run pose --profile quick --seed 0 --set num_stacks=4 attention=acnn
    python -m studylib.run face --profile quick --set variant=odn --ablation reduction_ratio
    torchrun --nproc_per_node 2 -m studylib.run pose --profile full --set attention=acnn \\
        schedule=A-B-C --ablation freezing --setting acnn-A-B-C

The run's record goes where a notebook's would (``results/<ablation>/<dataset>/<setting>/
seed<k>/``, or ``--results-dir``); a finished run with the same config is skipped unless
``--force``. Under torchrun the processes train one model together (see
:mod:`studylib.distributed`) and rank 0 writes the record.

A track supplies its parts (:class:`TrackParts`: its data, its model and task, what its record
adds to the metrics); the driver does the rest, the same for both: reuse a finished record or link
a shared one, seed, train (resumably), and write the record with its provenance.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import textwrap
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from studylib import distributed, results
from studylib.config import PROFILES, RunConfig
from studylib.data.dataset import KeypointSet
from studylib.publish import READ_ONLY_ENV, read_only
from studylib.train import (
    FitResult,
    Task,
    default_channels_last,
    fit_run,
    load_model_weights,
    needs_training,
    process_device,
)


@dataclass(frozen=True)
class TrackParts:
    """What one track brings to :func:`train_run`.

    ``load_data(config)`` gives (train, test); ``build(config, train_set)`` the model and its task
    (called after the run's seed is set, so that the initial weights belong to it);
    ``record(model, config, train_set, test_set, device, outcome)`` the metrics and per-sample
    table the record keeps (the outcome's, and what the track adds: floors, parameter counts,
    mask or occlusion statistics); ``fit_context()`` what training runs inside.
    """

    load_data: Callable[[Any], tuple[KeypointSet, KeypointSet]]
    build: Callable[[Any, KeypointSet], tuple[nn.Module, Task]]
    record: Callable[..., tuple[dict[str, Any], pd.DataFrame]]
    fit_context: Callable[[], AbstractContextManager] = contextlib.nullcontext


def train_run(
    parts: TrackParts,
    config: RunConfig,
    root: str | Path,
    ablation: str,
    setting: str,
    *,
    force: bool = False,
    progress: bool | None = None,
    shared_with: tuple[str, str] | None = None,
) -> Path:
    """Train and evaluate one run and write its record; return the record's folder.

    A run whose record holds the same config is finished and is returned as it is, unless
    ``force``; an interrupted run resumes from its checkpoint. ``shared_with`` names the
    (ablation, setting) that owns this same configuration: the run is trained there, at most once
    and never forced from here, and its record is linked into this setting's folder.
    """
    folder = results.run_dir(root, ablation, config.dataset, setting, config.seed)
    config_dict = config.to_dict()
    if shared_with is not None:
        owner = results.run_dir(root, shared_with[0], config.dataset, shared_with[1], config.seed)
        # The same configuration belongs to another ablation's setting: train it there (once,
        # never forced from here) and link its record here; unless the owner's record holds
        # another configuration (e.g. this notebook was given other parameters), which is left
        # alone: this run is then not the shared one and trains in its own folder.
        if results.is_complete(owner, config_dict) or not (owner / "metrics.json").is_file():
            if read_only():
                return _read_shared(owner, folder, config_dict)
            source = train_run(parts, config, root, *shared_with, progress=progress)
            return results.link_record(source, folder)
    if read_only() and (force or not results.is_complete(folder, config_dict)):
        raise _not_trained_here(folder)
    if not needs_training(folder, config_dict, force):
        return folder
    train_set, test_set = parts.load_data(config)
    device = process_device(config.device)
    torch.manual_seed(config.seed)  # the initial weights belong to the run's seed
    model, task = parts.build(config, train_set)
    with parts.fit_context():
        outcome: FitResult = fit_run(
            model, task, train_set, test_set, config, folder, device, progress
        )
    if not distributed.context().is_main:
        return folder  # rank 0 writes the record
    metrics, per_sample = parts.record(model, config, train_set, test_set, device, outcome)
    prov = results.provenance(
        outcome.device,
        outcome.wall_time_s,
        outcome.train_images,
        processes=distributed.context().world_size,
        channels_last=default_channels_last(outcome.device, config.channels_last),
        dataset_info={"train": train_set.info, "test": test_set.info},
    )
    return results.write_record(folder, config_dict, metrics, outcome.history, per_sample, prov)


def _not_trained_here(folder: Path) -> RuntimeError:
    return RuntimeError(
        f"{folder}: no finished record of this configuration, and records are only read here "
        f"({READ_ONLY_ENV} is set, as while the book is built): run `make study` (or the "
        "notebook) to train it"
    )


def _read_shared(owner: Path, folder: Path, config: dict[str, Any]) -> Path:
    """A shared run's folder when only reading: it must hold its owner's record as it is now (a
    run trained again by its owner after the link was made would otherwise show two versions)."""
    if not results.is_complete(folder, config):
        raise _not_trained_here(folder)
    if (folder / "metrics.json").read_bytes() != (owner / "metrics.json").read_bytes():
        raise RuntimeError(
            f"{folder} holds an older record than {owner}, the run it shares: run the study "
            "again (e.g. `make study RESUME=1`) to link the new one"
        )
    return folder


def parse_assignment(text: str) -> tuple[str, object]:
    """``key=value``: a JSON value (numbers, true/false/null, lists, dicts) or a plain string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def load_trained(
    folder: str | Path,
    config_class: type[RunConfig],
    build: Callable[[Any, Path], nn.Module],
) -> tuple[nn.Module, RunConfig]:
    """The trained model of a finished run (its checkpoint's weights, in eval mode) and the run's
    config; ``build(config, folder)`` makes the untrained model to load them into.

    Raises:
        FileNotFoundError: the run has no checkpoint; checkpoints are not committed, so records
            that came from git have none.
    """
    folder = Path(folder)
    config = config_class.from_record(folder)
    model = load_model_weights(build(config, folder), folder)
    return model.eval(), config


def _set_keys() -> str:
    """The keys ``--set`` takes, per track (the run configs' fields)."""
    import dataclasses

    from studylib.config import FaceConfig, PoseConfig

    lines = ["--set keys (each track's run config; see studylib.config):"]
    for track, cls in (("pose", PoseConfig), ("face", FaceConfig)):
        names = sorted(f.name for f in dataclasses.fields(cls) if f.name not in ("seed", "profile"))
        lines += textwrap.wrap(
            ", ".join(names), 96, initial_indent=f"  {track}: ", subsequent_indent="    "
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studylib.run",
        description="Train one run of a track and write its record (reused when a finished "
        "record holds the same config, unless --force).",
        epilog=_set_keys(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("track", choices=("pose", "face"), help="the track")
    parser.add_argument("--profile", default="quick", choices=PROFILES, help="default: quick")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default: 0)")
    parser.add_argument(
        "--set",
        nargs="*",
        type=parse_assignment,
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, e.g. epochs=4 attention=acnn (keys below)",
    )
    parser.add_argument(
        "--ablation", default="runs", help="the record's ablation folder (default: runs)"
    )
    parser.add_argument("--setting", default=None, help="default: a name built from --set")
    parser.add_argument(
        "--results-dir",
        default=None,
        help="where records go (default: results/, or STUDYLIB_RESULTS)",
    )
    parser.add_argument(
        "--force", action="store_true", help="train again even if a finished record matches"
    )
    args = parser.parse_args(argv)

    from studylib import face, pose
    from studylib.config import FaceConfig, PoseConfig

    config_class, run = {
        "pose": (PoseConfig, pose.run_pose),
        "face": (FaceConfig, face.run_face),
    }[args.track]
    overrides = dict(args.set)
    try:
        config = config_class.from_profile(args.profile, seed=args.seed, **overrides)
    except (TypeError, ValueError) as error:
        parser.error(f"--set: {error}")
    setting = (
        args.setting or "-".join(f"{k}={v}" for k, v in sorted(overrides.items())) or "default"
    )
    ctx = distributed.setup(config.device)
    try:
        root = results.results_root(args.profile, args.results_dir)
        folder = run(config, root, args.ablation, setting, force=args.force)
        if ctx.is_main:
            print(f"record: {folder}")
    finally:
        distributed.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
