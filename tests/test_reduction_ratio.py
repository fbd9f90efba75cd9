"""The settings of the face track's two ablations (studylib.experiments.reduction_ratio, and
studylib.experiments.attention_order, whose settings the same tests check beside them): each
setting's overrides, in table order, from the list or its string form (papermill's ``-p``), with
unknown or malformed values named."""

import pytest

from studylib.config import ATTENTION_ORDERS
from studylib.experiments import attention_order, reduction_ratio


def test_settings_of_the_two_ablations():
    ratios = reduction_ratio.settings((8, 16), pooling_ablation=True)
    assert list(ratios) == ["resnet", "odn", "adm-r8", "adm-r16", "adm-r8-avg"]
    assert ratios["adm-r16"]["reduction_ratio"] == 16
    assert ratios["adm-r8-avg"]["channel_pooling"] == ("avg",)
    orders = attention_order.settings(reduction_ratio=16)
    assert list(orders) == list(ATTENTION_ORDERS)
    assert {o["reduction_ratio"] for o in orders.values()} == {16}
    with pytest.raises(ValueError, match="orders must be"):
        attention_order.settings(["channel-first"])


def test_face_settings_from_papermill_p():
    ratios = reduction_ratio.settings("[4, 8]", pooling_ablation=True)
    assert list(ratios) == ["resnet", "odn", "adm-r4", "adm-r8", "adm-r4-avg"]
    assert ratios == reduction_ratio.settings([4, 8], pooling_ablation=True)
    for bad in ("[4, 8", "[0]", "[]", "[8.0]", "8"):
        with pytest.raises(
            ValueError, match="reduction_ratios must be a non-empty list of integers > 0"
        ):
            reduction_ratio.settings(bad)

    orders = attention_order.settings('["channel-spatial", "none"]', reduction_ratio=16)
    assert list(orders) == ["channel-spatial", "none"]
    assert orders["none"]["reduction_ratio"] == 16
    with pytest.raises(ValueError, match=r"orders must be .*unknown: \['channel-first'\]"):
        attention_order.settings("['channel-first']")
    with pytest.raises(ValueError, match=r"orders must be .*got '\[\"none\"'"):
        attention_order.settings('["none"')
