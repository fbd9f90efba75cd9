"""Figures (studylib.plots): the attention-mask and joint-heatmap figures drawn from a tiny
model's masks and heatmaps."""

from __future__ import annotations

import matplotlib.pyplot as plt

from helpers import tiny_pose_model
from studylib import plots, pose


def test_mask_and_heatmap_figures_draw_from_a_model(tiny_data):
    _, test_set = tiny_data
    model = tiny_pose_model(stacks=3)
    model.masks_active = False  # as after phase A: the figure still shows the mask heads' masks
    images = test_set.images[:2]
    masks = pose.attention_masks(model, images)
    assert masks.shape == (2, 2, 16, 16)
    assert masks.min() >= 0 and masks.max() <= 1
    assert model.masks_active is False and model.training
    fig = plots.plot_attention_masks(images, masks)
    assert len(fig.axes) == 2 * 3
    plt.close(fig)
    heatmaps = pose.predicted_heatmaps(model, images[:1])
    assert heatmaps.shape == (1, 16, 16, 16)
    fig = plots.plot_joint_heatmaps(images[0], heatmaps[0], test_set.spec.names)
    assert sum(ax.get_title() != "" for ax in fig.axes) == 17
    plt.close(fig)
