"""The training loop (studylib.train): what a phase freezes (weights and BatchNorm statistics),
ACNN's phases through ``fit`` on a tiny synthetic set (64 px, 16 training images, 8 features: what
a run of the freezing notebook does), each process's share of a batch, ``fit``'s argument checks,
and the subnormal flush. (Resuming, checkpoints and non-finite losses are tested in
test_reliability.py and test_cuda_path.py.)"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import (
    small_hourglass,
    tiny_pose_config,
    tiny_pose_model,
)
from studylib import pose
from studylib.config import Phase, schedule_phases
from studylib.data.keypoints import MPII
from studylib.train import apply_phase, batch_indices, fit, flush_denormals, train_mode

LR = 2e-3


pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------ freezing in a phase


def test_phase_a_keeps_masks_at_one_and_leaves_mask_heads_unchanged():
    model = small_hourglass("acnn")
    trainable = apply_phase(model, Phase("A", 1, 1e-2, train="heatmap", masks=False))
    masks_before = {k: v.clone() for k, v in model.mask_heads.state_dict().items()}
    optimizer = torch.optim.RMSprop(trainable, lr=1e-2)
    train_mode(model)
    out = model(torch.rand(2, 3, 64, 64))
    assert all(torch.equal(m, torch.ones_like(m)) for m in out.masks)
    sum(p.square().mean() for p in out.predictions).backward()
    optimizer.step()
    assert all(p.grad is None for p in model.mask_heads.parameters())
    for key, value in model.mask_heads.state_dict().items():
        assert torch.equal(value, masks_before[key]), key


def test_phase_b_leaves_heatmap_parameters_and_statistics_unchanged():
    model = small_hourglass("acnn")
    trainable = apply_phase(model, Phase("B", 1, 1e-2, train="mask", masks=True))
    assert {id(p) for p in trainable} == {id(p) for p in model.mask_heads.parameters()}
    frozen_before = {
        k: v.clone() for k, v in model.state_dict().items() if not k.startswith("mask_heads")
    }
    optimizer = torch.optim.RMSprop(trainable, lr=1e-2)
    train_mode(model)
    out = model(torch.rand(2, 3, 64, 64))
    sum(p.square().mean() for p in out.predictions).backward()
    optimizer.step()
    assert all(p.grad is None for p in model.hourglasses.parameters())
    assert set(optimizer.state) == set(trainable)
    for key, value in model.state_dict().items():
        if key in frozen_before:  # weights and BatchNorm running statistics alike
            assert torch.equal(value, frozen_before[key]), key
    assert any(
        not torch.equal(a, b)
        for a, b in zip(
            model.mask_heads.parameters(), small_hourglass("acnn").mask_heads.parameters()
        )
    )


# ---------------------------------------------------------------------------- phases through fit


def fit_phases(model, phases, data):
    """``fit`` of ``model`` through ``phases`` on ``data`` (train, test): batch 8, seed 0."""
    train_set, test_set = data
    task = pose.PoseTask(
        flip_permutation=torch.from_numpy(train_set.spec.flip_permutation()), flip_test=False
    )
    return fit(
        model,
        task,
        train_set,
        test_set,
        tuple(phases),
        batch_size=8,
        seed=0,
        device=torch.device("cpu"),
        progress=False,
    )


def state(module):
    """Every parameter and buffer (BatchNorm running statistics included), copied."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def heatmap_state(model):
    return {k: v for k, v in state(model).items() if not k.startswith("mask_heads.")}


def column(history, name):
    """A history column, all NaN when the loop never logged it."""
    return history[name] if name in history else pd.Series(np.nan, index=history.index)


@pytest.fixture(scope="module")
def abc_run(tiny_data):
    """The paper's schedule, A-B-C, over 4 epochs (A 1, B 2, C 1)."""
    phases = schedule_phases("A-B-C", 4, LR)
    return phases, fit_phases(tiny_pose_model(), phases, tiny_data).history


@pytest.mark.slow
def test_phase_a_keeps_mask_heads_unchanged_and_logs_no_mask_gradient(tiny_data):
    model = tiny_pose_model()
    masks_before, heatmap_before = state(model.mask_heads), heatmap_state(model)
    phase_a = schedule_phases("A-B-C", 3, LR)[0]
    assert (phase_a.name, phase_a.train, phase_a.masks) == ("A", "heatmap", False)
    history = fit_phases(model, [phase_a], tiny_data).history
    for key, value in state(model.mask_heads).items():
        assert torch.equal(value, masks_before[key]), key
    assert any(not torch.equal(v, heatmap_before[k]) for k, v in heatmap_state(model).items())
    assert column(history, "grad_norm_mask").isna().all()
    assert (history["grad_norm_heatmap"] > 0).all()


@pytest.mark.slow
def test_phase_b_leaves_heatmap_parameters_and_batchnorm_statistics_unchanged(tiny_data):
    # Same seed, same initial weights: A alone and A then B must leave the heatmap network
    # (weights and BatchNorm running statistics) identical, while B changes the mask heads.
    phase_a, phase_b = schedule_phases("A-B", 2, LR)
    after_a = tiny_pose_model()
    fit_phases(after_a, [phase_a], tiny_data)
    after_b = tiny_pose_model()
    fit_phases(after_b, [phase_a, phase_b], tiny_data)
    expected = heatmap_state(after_a)
    running = [k for k in expected if k.endswith(("running_mean", "running_var"))]
    assert running, "the heatmap network should have BatchNorm statistics to check"
    for key, value in heatmap_state(after_b).items():
        assert torch.equal(value, expected[key]), key
    masks_a, masks_b = state(after_a.mask_heads), state(after_b.mask_heads)
    assert any(not torch.equal(masks_a[k], masks_b[k]) for k in masks_a)


@pytest.mark.slow
def test_history_phases_and_rates_match_schedule_phases(abc_run):
    phases, history = abc_run
    expected = [(p.name, p.lr_at(e / p.epochs)) for p in phases for e in range(p.epochs)]
    assert [p.name for p in phases] == ["A", "B", "C"]
    assert list(history["epoch"]) == list(range(1, len(expected) + 1))
    assert list(history["phase"]) == [name for name, _ in expected]
    assert np.allclose(history["lr"], [lr for _, lr in expected])


@pytest.mark.slow
def test_phase_c_logs_the_gradient_norms_of_both_groups(abc_run):
    _, history = abc_run
    phase_c = history[history["phase"] == "C"]
    assert len(phase_c) == 1
    for name in ("grad_norm_heatmap", "grad_norm_mask", "grad_rms_heatmap", "grad_rms_mask"):
        value = float(phase_c[name].iloc[0])
        assert math.isfinite(value) and value > 0, name
    phase_a = history[history["phase"] == "A"]
    assert column(phase_a, "grad_norm_mask").isna().all()


@pytest.mark.slow
def test_history_has_no_heatmap_gradient_in_phase_b(abc_run):
    # The heatmap network is frozen in phase B, so it gets no gradient there; a value logged for
    # it would be a leftover of phase A's last step (a gradient kept on a frozen parameter).
    _, history = abc_run
    phase_b = history[history["phase"] == "B"]
    assert column(phase_b, "grad_norm_heatmap").isna().all(), phase_b["grad_norm_heatmap"]
    assert (phase_b["grad_norm_mask"] > 0).all()


# ------------------------------------------------------------------------------- batches, checks


def test_processes_take_disjoint_equal_shares_of_each_batch():
    shares = [
        list(batch_indices(50, 8, torch.Generator().manual_seed(3), rank, 2)) for rank in (0, 1)
    ]
    assert len(shares[0]) == len(shares[1]) == 6  # 6 global batches of 8, 2 left over
    seen = torch.cat([torch.cat(s) for s in shares])
    assert len(set(seen.tolist())) == 48  # disjoint, and together one epoch
    whole = list(batch_indices(50, 8, torch.Generator().manual_seed(3)))
    for step, batch in enumerate(whole):  # each global batch is split, not reshuffled
        assert torch.equal(torch.cat([shares[0][step], shares[1][step]]), batch)
    with pytest.raises(ValueError, match="multiple of the 2 processes"):
        next(batch_indices(50, 7, torch.Generator(), 0, 2))


def test_fit_rejects_non_positive_batch_size_and_epochs(tmp_path):
    config = tiny_pose_config()
    train_set, test_set = pose.load_pose_data(config)
    model = pose.build_model(config, MPII.num_keypoints)
    task = pose.PoseTask(flip_permutation=torch.from_numpy(MPII.flip_permutation()))
    common = dict(seed=0, device=torch.device("cpu"), progress=False)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        fit(model, task, train_set, test_set, config.phases(), batch_size=0, **common)
    phases = (Phase("joint", 0, 1e-3),)
    with pytest.raises(ValueError, match=r"every phase needs >= 1 epoch, got \[0\]"):
        fit(model, task, train_set, test_set, phases, batch_size=4, **common)
    with pytest.raises(ValueError, match="batch_size 64 is larger than the 12 training samples"):
        fit(model, task, train_set, test_set, config.phases(), batch_size=64, **common)


def test_flushing_subnormals_is_undone_after_the_block():
    tiny = torch.tensor([1e-310], dtype=torch.float64)
    assert (tiny * 1.0).item() != 0
    with flush_denormals():
        assert (tiny * 1.0).item() == 0
    assert (tiny * 1.0).item() != 0  # left on, it breaks IEEE-754 code elsewhere in the process


def test_channels_last_puts_the_input_in_that_layout_too_and_hooks_once():
    from studylib.train import step_model_for

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.Conv2d(4, 4, 3, padding=1))
    seen = []
    model[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    for _ in range(2):  # a model stepped in two phases is wrapped twice
        step = step_model_for(model, torch.device("cpu"), channels_last=True, compile_model=False)
    step(torch.rand(2, 3, 8, 8))
    # A 1 x 1 weight reads the same in both layouts, so only the input decides the layout here.
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert not seen[0].is_contiguous()
    assert len(model._forward_pre_hooks) == 1
