"""What the book's pages compute, so that each table is computed in one place and tested.

Also a Sphinx extension (``_config.yml`` lists ``studylib.chapters`` in ``extra_extensions``)
that keeps the book in step with ``results/``:

- every page the build executes (the synthetic experiment notebooks' executed copies, which
  read the records, and the report pages that compute) is executed again at every build, and
  every page that pastes another page's published outputs (``{glue:any}`` with ``:doc:``) is read
  again too. Sphinx re-reads only the sources whose files changed, but a page's source does not
  change when ``results/`` does, so without this a second build after new runs kept the old
  numbers;
- while the book builds, notebooks only read records (:data:`studylib.publish.READ_ONLY_ENV`,
  inherited by the kernels): a missing record fails the build with its name instead of training.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studylib import floors, results
from studylib.io import read_json
from studylib.publish import READ_ONLY_ENV


def _reread_live_pages(app: Any, doctree: Any) -> None:
    """Mark the page being read to be read again at the next build when myst-nb executed it in
    this one, or when it pastes outputs published by another page."""
    from myst_nb.ext.glue.utils import PendingGlueReference
    from myst_nb.sphinx_ import NbMetadataCollector

    env = app.env
    executed = NbMetadataCollector.get_exec_data(env, env.docname)
    pastes = next(iter(doctree.findall(PendingGlueReference)), None) is not None
    if executed or pastes:
        env.note_reread()


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: the re-read rule, and notebooks that only read records."""
    os.environ[READ_ONLY_ENV] = "1"
    app.setup_extension("myst_nb")
    app.connect("doctree-read", _reread_live_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# ----------------------------------------------------------------------------- records of a chapter


@dataclass(frozen=True)
class Ablation:
    """One ablation's finished runs on one dataset, by setting in the ablation's order: what a
    chapter reads. The synthetic chapters and the real-data chapter build it with their
    ``dataset`` and call the same methods, so each table is computed by one function."""

    ablation: str
    dataset: str
    runs: dict[str, list[Path]]

    @property
    def all_runs(self) -> list[Path]:
        return [folder for folders in self.runs.values() for folder in folders]

    @property
    def order(self) -> list[str]:
        return list(self.runs)

    def __bool__(self) -> bool:
        return bool(self.runs)

    @property
    def experiment(self):
        """The ablation's entry in :data:`studylib.experiments.EXPERIMENTS`."""
        from studylib.experiments import by_ablation

        return by_ablation(self.ablation)

    @property
    def track(self) -> str:
        return self.experiment.track

    def score_table(self, columns: dict[str, str] | None = None) -> pd.DataFrame:
        """Each setting's scores, mean and interval over seeds, with the floor beside them: the
        PCKh table in ACNN's Table 1 layout (pose) or the NME table (faces; ``columns`` picks
        which, e.g. none of the occlusion columns for a set without occlusion labels)."""
        from studylib import face, report

        if self.track == "pose":
            return report.pckh_table(self.all_runs, order=self.order)
        return face.nme_table(self.all_runs, order=self.order, columns=columns or face.NME_COLUMNS)

    def comparisons(self, columns: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
        """Every setting against each of the experiment's reference settings that ran
        (:attr:`studylib.experiments.Experiment.references`): paired differences on the same
        test samples, with intervals over samples, seeds and both (``pose.paired_pckh`` or
        ``face.paired_nme``; ``columns`` are their score columns, default theirs)."""
        from studylib import face, pose

        paired = pose.paired_pckh if self.track == "pose" else face.paired_nme
        chosen = {} if columns is None else {"columns": tuple(columns)}
        if len(self.runs) < 2:
            return {}
        return {
            against: paired(self.all_runs, against, order=self.order, **chosen)
            for against in self.experiment.references
            if against in self.runs
        }

    def difference_tables(self, comparisons: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """:meth:`comparisons` as tables (:func:`studylib.compare.difference_table`), in PCKh
        points (pose) or NME points (faces), by reference setting (those with no difference to
        show are left out)."""
        from studylib import compare

        pose = self.track == "pose"
        wording = dict(digits=1, unit="PCKh points") if pose else dict(digits=2, unit="NME, %")
        return {
            against: compare.difference_table(differences, **wording)
            for against, differences in comparisons.items()
            if not differences.empty
        }

    def floor_table(self) -> pd.DataFrame:
        """:func:`floor_table` of the ablation's runs."""
        return floor_table(self.all_runs, order=self.order)

    def floor_reading(self) -> str:
        """:func:`floor_reading` of the ablation's runs."""
        return floor_reading(self.all_runs)

    def budget_reading(self) -> str:
        """:func:`budget_reading` of the ablation's runs."""
        return budget_reading(self.all_runs)


def ablation(root: str | Path, name: str, dataset: str = "synthetic") -> Ablation:
    """The runs of ablation ``name`` ("freezing", "reduction_ratio", "attention_order") on
    ``dataset`` under ``root`` (the results folder), in the order its settings are defined."""
    from studylib.experiments import by_ablation

    return Ablation(name, dataset, by_ablation(name).find_runs(root, dataset))


# ----------------------------------------------------------------------------- floors


def floor_records(runs: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Each run's ``metrics.json`` with its ``setting`` and ``seed``: what
    :func:`studylib.floors.gate` reads."""
    records = []
    for folder in map(Path, runs):
        keys = results.run_keys(folder)
        records.append(
            {**read_json(folder / "metrics.json"), "setting": keys["setting"], "seed": keys["seed"]}
        )
    return records


def has_floor(metrics: dict[str, Any]) -> bool:
    """Whether a record holds its floor (records written before floors existed do not)."""
    if "pckh" in metrics:
        return np.isfinite(float((metrics.get("floor") or {}).get("pckh", np.nan)))
    return np.isfinite(float(metrics.get("nme_mean_shape", np.nan)))


def floor_table(runs: Iterable[str | Path], order: Sequence[str] | None = None) -> pd.DataFrame:
    """Per setting: the score (mean over seeds), the trivial predictor's score on the same test
    set, the score the learning gate asks for, and how many seeds cleared it
    (:func:`studylib.floors.clearance`). Pose in PCKh@0.5 %, faces in NME % of the inter-ocular
    distance."""
    rows = []
    for record in floor_records(runs):
        result = floors.clearance(record)
        pose = "pckh" in record
        scale = 1.0 if pose else 100.0
        need = result.floor + floors.POSE_MARGIN if pose else floors.FACE_RATIO * result.floor
        rows.append(
            {
                "setting": record["setting"],
                "score": scale * result.score,
                "floor": scale * result.floor,
                "gate": scale * need,
                "cleared": result.cleared,
                "pose": pose,
            }
        )
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    names = [s for s in (order or []) if s in set(frame["setting"])]
    names += sorted(set(frame["setting"]) - set(names))
    grouped = frame.groupby("setting", sort=False)
    metric = "PCKh@0.5 (%)" if frame["pose"].iloc[0] else "NME (%)"
    floor_name = "constant pose" if frame["pose"].iloc[0] else "mean shape"
    table = pd.DataFrame(
        {
            f"{metric}, mean": grouped["score"].mean(),
            f"{floor_name} (floor)": grouped["floor"].mean(),
            "gate": grouped["gate"].mean(),
            "seeds cleared": grouped["cleared"].sum().astype(int).astype(str)
            + " of "
            + grouped.size().astype(str),
        }
    ).loc[names]
    table.index.name = "setting"
    # Records written before floors existed have none: say so rather than show NaN.
    return table.round(2).astype(object).where(table.notna(), "not recorded")


def floor_reading(runs: Iterable[str | Path]) -> str:
    """A sentence on whether the runs learnt: :func:`studylib.floors.gate` over their records,
    or, for records written before floors were recorded, that they cannot be judged."""
    records = floor_records(runs)
    if not records:
        return "No records."
    missing = [r for r in records if not has_floor(r)]
    if missing:
        return (
            f"{len(missing)} of {len(records)} records predate the floors (the score of a "
            "trivial predictor on the same test set), so whether these runs learnt more than "
            "a constant cannot be checked here and no comparison of them carries a verdict; "
            "running the study again records the floors."
        )
    cleared, sentence = floors.gate(records)
    if cleared:
        return (
            f"Every run cleared the learning gate ({sentence}): the comparisons below compare "
            "models that learnt from the images."
        )
    return (
        f"Not every run cleared the learning gate: {sentence}. A comparison that includes "
        "them carries no verdict: such a model may have learnt the crop's layout and "
        "nothing about the image."
    )


# ----------------------------------------------------------------------------- budgets


def budget_reading(runs: Iterable[str | Path]) -> str:
    """How the runs trained, read from their records' configs: seeds, input size, training
    images, batch size and epochs (a phased schedule's mask-only phase counted), one clause per
    budget, naming the settings when budgets differ. The book states budgets from here, so that
    its words follow the records when a profile changes."""
    from studylib.config import FaceConfig, PoseConfig

    runs = [Path(folder) for folder in runs]
    if not runs:
        return "No records."
    budgets: dict[tuple, list[str]] = {}
    seeds = set()
    for folder in runs:
        keys = results.run_keys(folder)
        seeds.add(keys["seed"])
        track = PoseConfig if "num_stacks" in read_json(folder / "config.json") else FaceConfig
        config = track.from_record(folder)
        phases = config.phases()
        budget = (
            config.image_size,
            config.num_train,
            config.batch_size,
            sum(phase.epochs for phase in phases),
            sum(phase.epochs for phase in phases if phase.train == "mask"),
        )
        settings = budgets.setdefault(budget, [])
        if keys["setting"] not in settings:
            settings.append(keys["setting"])
    clauses = []
    for (size, images, batch, epochs, mask_only), settings in budgets.items():
        who = "" if len(budgets) == 1 else f"{', '.join(settings)}: "
        masks = f" ({mask_only} of them training the masks alone)" if mask_only else ""
        clauses.append(
            f"{who}{epochs} epochs{masks} of {images:,} training images at {size} px in batches "
            f"of {batch}"
        )
    seed_list = ", ".join(str(seed) for seed in sorted(seeds))
    return f"{'; '.join(clauses)} (seed{'s' if len(seeds) > 1 else ''} {seed_list})."
