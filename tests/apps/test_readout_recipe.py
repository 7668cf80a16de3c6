"""The probe recipes' encoder choice (`keras4ds_apps.probe`)."""
import pytest

from keras4ds_apps.probe import load_encoder, parser


def test_patch_size_sets_the_token_grid_of_a_random_encoder():
    args = parser("points").parse_args(["--width", "16", "--depth", "1", "--frames", "4",
                                        "--image-size", "32", "--patch-size", "2", "8", "8"])
    encoder = load_encoder(args)
    assert encoder.patch_size == (2, 8, 8) and encoder.grid == (2, 4, 4)
    default = load_encoder(parser("points").parse_args(["--width", "16", "--depth", "1",
                                                         "--frames", "4", "--image-size", "32"]))
    assert default.grid == (2, 2, 2)


def test_patch_size_is_refused_for_a_loaded_encoder():
    args = parser("points").parse_args(["--preset", "somewhere", "--patch-size", "2", "8", "8"])
    with pytest.raises(ValueError, match="--patch-size"):
        load_encoder(args)


def test_training_defaults_follow_the_point_head():
    from keras4ds_apps.probe import probe_arguments, training_settings
    attention = parser("points").parse_args([])  # the feature-only head is the default
    assert probe_arguments("points", attention) == {"head": "attention", "motion_features": False,
                                                    "readout_position": True}
    assert training_settings("points", attention) == {"steps": 300, "batch_size": 16,
                                                      "learning_rate": 1e-3}
    template = parser("points").parse_args(["--probe-kwargs", '{"head": "template"}'])
    assert training_settings("points", template) == {"steps": 60, "batch_size": 4,
                                                     "learning_rate": 3e-2}
    pose = parser("pose").parse_args(["--probe-kwargs", '{"global_motion": true}'])
    assert probe_arguments("pose", pose) == {"global_motion": True, "motion_features": False,
                                             "readout_position": True}
    given = parser("depth").parse_args(["--steps", "7"])
    assert training_settings("depth", given)["steps"] == 7
    assert parser("points").parse_args(["--finetune"]).encoder_learning_rate == 1e-3
