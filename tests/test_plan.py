"""The study's run plan: the runs it trains beforehand are exactly those the notebooks train."""

import ast
import json
from pathlib import Path

import pytest
import torch

from studylib import plan, results
from studylib.config import FaceConfig, seeds_for

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


@pytest.mark.parametrize("name", list(plan.DEFAULTS))
def test_plan_defaults_are_the_notebooks(name):
    params = notebook_parameters(name)
    for key, value in plan.DEFAULTS[name].items():
        assert params[key] == value, f"{name}: the plan's {key} differs from the notebook's"


def test_planned_runs_cover_each_setting_and_seed_once():
    seeds = seeds_for("quick")
    freezing_runs = plan.planned_runs("freezing_phases", "quick")
    assert {r.track for r in freezing_runs} == {"pose"}
    assert len(freezing_runs) == 3 * len(seeds)
    ratio_runs = plan.planned_runs("reduction_ratio", "quick")
    assert [r.setting for r in ratio_runs[:: len(seeds)]] == [
        "resnet",
        "odn",
        "adm-r8",
        "adm-r16",
        "adm-r32",
        "adm-r64",
        "adm-r8-avg",
    ]
    order_runs = plan.planned_runs("attention_order", "quick")
    # channel-spatial is the reduction-ratio ablation's adm-r8: planned there only.
    assert "channel-spatial" not in {r.setting for r in order_runs}
    labels = [r.label for r in freezing_runs + ratio_runs + order_runs]
    assert len(labels) == len(set(labels))
    assert plan.planned_runs("pose_baseline", "quick") == []


def test_real_data_parameters_reach_the_configs():
    runs = plan.planned_runs("reduction_ratio", "quick", dataset="300w", num_train=7, epochs=3)
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
