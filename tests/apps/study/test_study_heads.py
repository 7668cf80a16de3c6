"""The study's heads read encoder features only; the hand-made heads say they do not."""
import pytest
from tiny_models import tiny_encoder

from keras4ds.readouts import make_probe
from keras4ds_apps.study import BUDGETS
from keras4ds_apps.study.budgets import TASKS


def _encoder():
    return tiny_encoder(image_size=(32, 32), patch_size=(2, 16, 16))


@pytest.mark.parametrize("budget", sorted(BUDGETS))
@pytest.mark.parametrize("task", TASKS)
def test_every_study_head_reads_features_only(budget, task):
    kwargs = BUDGETS[budget].probe_kwargs(task)
    kwargs.pop("decoding_patch_size", None)  # sized for 16x64x64 clips, not this encoder
    probe = make_probe(task, _encoder(), num_params=32, num_classes=4, **kwargs)
    assert probe.hand_made_paths() == []
    assert probe.readout.spatial_grid == probe.encoder.grid[1:]
    assert not hasattr(probe, "cost_volume") and not hasattr(probe, "pixel_decoder")


@pytest.mark.parametrize("task, kwargs, names", [
    ("pose", {}, ["motion_features", "global_motion"]),
    ("points", {"head": "template"}, ["pixel_decoder", "template_matching"]),
    ("points", {"head": "attention"}, ["motion_features"]),
    ("classify", {}, ["motion_features"]),
])
def test_yardstick_heads_name_their_hand_made_paths(task, kwargs, names):
    probe = make_probe(task, _encoder(), num_params=32, num_classes=4, **kwargs)
    found = " ".join(probe.hand_made_paths())
    assert all(name in found for name in names), found


def test_partial_probe_arguments_keep_the_feature_only_heads():
    budget = BUDGETS["default"].replace(task_probe_kwargs={"depth": {"decoding_patch_size": [2, 8, 8]}})
    assert budget.probe_kwargs("depth") == {"decoding_patch_size": [2, 8, 8],
                                            "readout_position": True}
    assert budget.probe_kwargs("pose") == {"global_motion": False, "motion_features": False,
                                           "readout_position": True}
    assert budget.probe_kwargs("points")["head"] == "attention"


def test_dpt_depth_head_refuses_readout_blocks():
    with pytest.raises(ValueError, match="readout_blocks is for the attention head"):
        make_probe("depth", _encoder(), num_params=32, head="dpt", readout_blocks=1)
