"""The experiments registry and the study's run pool: the runs it trains beforehand are exactly
those the notebooks train."""

import ast
import json
from pathlib import Path

import pytest
import torch

from studylib import plan, results
from studylib.config import FaceConfig, seeds_for
from studylib.experiments import EXPERIMENTS, heatmap_sigma

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def notebook_parameters(name: str) -> dict:
    """The values the notebook's ``parameters`` cell assigns (its defaults)."""
    notebook = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    cell = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_registry_defaults_are_the_notebooks(name):
    params = notebook_parameters(name)
    for key, value in EXPERIMENTS[name].defaults.items():
        assert params[key] == value, f"{name}: the registry's {key} differs from the notebook's"


def test_planned_runs_cover_each_setting_and_seed_once():
    seeds = seeds_for("quick")
    freezing_runs = EXPERIMENTS["freezing_phases"].runs("quick")
    assert {r.track for r in freezing_runs} == {"pose"}
    assert len(freezing_runs) == 3 * len(seeds)
    ratio_runs = EXPERIMENTS["reduction_ratio"].runs("quick")
    assert [r.setting for r in ratio_runs[:: len(seeds)]] == [
        "resnet",
        "odn",
        "adm-r8",
        "adm-r16",
        "adm-r32",
        "adm-r64",
        "adm-r8-avg",
    ]
    order_runs = EXPERIMENTS["attention_order"].runs("quick")
    # channel-spatial is the reduction-ratio ablation's adm-r8: planned there only.
    assert "channel-spatial" not in {r.setting for r in order_runs}
    labels = [r.label for r in freezing_runs + ratio_runs + order_runs]
    assert len(labels) == len(set(labels))
    assert EXPERIMENTS["pose_baseline"].runs("quick") == []
    assert EXPERIMENTS["robustness"].runs("quick") == []


def test_shared_settings_are_the_owners_configs():
    """A setting linked from another experiment has exactly that experiment's config (else the
    link would put another run's record under its name)."""
    for experiment in EXPERIMENTS.values():
        configs = experiment.configs("quick")
        for setting, (ablation, owner_setting) in experiment.shared.items():
            owner = next(e for e in EXPERIMENTS.values() if e.ablation == ablation)
            assert configs[setting] == owner.configs("quick")[owner_setting], setting


def test_sigma_settings_and_bad_sigmas():
    configs = heatmap_sigma.configs("quick")
    assert list(configs) == ["sigma-1", "sigma-1.5", "sigma-2", "sigma-3"]
    assert [c.sigma for c in configs.values()] == [1.0, 1.5, 2.0, 3.0]
    assert {c.attention for c in configs.values()} == {None}
    runs = EXPERIMENTS["heatmap_sigma"].runs("quick")
    assert "sigma-1" not in {r.setting for r in runs}  # the freezing ablation's no-attention
    with pytest.raises(ValueError, match="sigmas"):
        heatmap_sigma.configs("quick", [0])
    with pytest.raises(ValueError, match="sigmas"):
        heatmap_sigma.configs("quick", "[1, 'a']")


def test_real_data_parameters_reach_the_configs():
    runs = EXPERIMENTS["reduction_ratio"].runs("quick", dataset="300w", num_train=7, epochs=3)
    assert {(r.config.dataset, r.config.num_train, r.config.epochs) for r in runs} == {
        ("300w", 7, 3)
    }


def test_pool_trains_the_run_the_notebook_would(tmp_path):
    """Two runs trained by the pool (two processes) hold the records a direct call writes."""
    base = FaceConfig.from_profile("smoke", num_train=32, num_test=16, epochs=2)
    runs = [
        plan.PlannedRun("face", base.replace(variant=variant), "reduction_ratio", variant)
        for variant in ("resnet", "odn")
    ]
    plan.train_all(runs, tmp_path / "pool", lanes=2, force=False, log=lambda *a, **k: None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each pool process (a float sum's order depends on threads)
    try:
        direct = runs[1].train(tmp_path / "direct")
    finally:
        torch.set_num_threads(threads)
    pooled = results.run_dir(tmp_path / "pool", "reduction_ratio", "synthetic", "odn", 0)
    assert results.is_complete(pooled, runs[1].config.to_dict())
    metrics = [json.loads((folder / "metrics.json").read_text()) for folder in (pooled, direct)]
    assert metrics[0]["nme"] == metrics[1]["nme"]


def test_sigma_setting_table_names_each_sigma():
    table = heatmap_sigma.setting_table(heatmap_sigma.configs("quick"))
    assert list(table.index) == ["sigma-1", "sigma-1.5", "sigma-2", "sigma-3"]
    assert list(table["sigma (heatmap px)"]) == [1.0, 1.5, 2.0, 3.0]
    assert set(table["heatmap side (px)"]) == {32}


@pytest.mark.parametrize("profile", ["smoke", "quick"])
def test_references_are_settings_the_profile_runs(profile):
    for experiment in EXPERIMENTS.values():
        configs = experiment.configs(profile)
        assert set(experiment.references) <= set(configs), experiment.name


def test_chapter_comparisons_are_against_the_references(tmp_path):
    from studylib import chapters
    from studylib.experiments import by_ablation

    root = results.project_root() / "results"
    records = chapters.ablation(root, "reduction_ratio")
    if len(records.runs) < 2:
        pytest.skip("no committed reduction-ratio records")
    comparisons = records.comparisons(columns=("nme",))
    assert list(comparisons) == list(by_ablation("reduction_ratio").references)
    tables = records.difference_tables(comparisons)
    assert list(tables) == list(comparisons)
    for name, table in tables.items():
        assert set(table.index) == set(records.runs) - {name}
