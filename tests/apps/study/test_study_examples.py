"""The study's example figures for depth and points, from two small procedural clips and a
stand-in predictions, written as the study writes them: PNGs that open."""
import numpy as np
import pytest
from PIL import Image

from keras4ds.data.synthetic import generate_clip
from keras4ds_apps.study import examples, plots
from keras4ds_apps.study.store import StudyFolder, write_npz

pytestmark = pytest.mark.backend_independent

NUM_FRAMES, SIZE = 4, 32


def stand_in_predictions(task, inputs, rng):
    """Random outputs of the shapes a trained `task` probe predicts on `inputs`."""
    n, t, h, w, _ = inputs["video"].shape
    if task == "depth":
        return rng.uniform(0.5, 5.0, (n, t, h, w, 1)).astype(np.float32)
    q = inputs["query_points"].shape[1]
    return {"tracks": rng.uniform(0, 1, (n, q, t, 2)).astype(np.float32),
            "visible": rng.uniform(0, 1, (n, q, t)).astype(np.float32)}


def test_depth_and_points_examples_are_drawn_to_png(tmp_path):
    from keras4ds.readouts import probe_batch

    clips = [generate_clip(seed, NUM_FRAMES, SIZE, SIZE, num_tracks=8) for seed in range(3)]
    rng = np.random.default_rng(0)
    arrays = {}
    for task in ("depth", "points"):
        inputs, targets = probe_batch(task, clips, seed=1)
        arrays[task] = examples.example_arrays(task, inputs, targets,
                                               stand_in_predictions(task, inputs, rng))
    depth, points = arrays["depth"], arrays["points"]
    assert depth["video"].shape == (2, NUM_FRAMES, SIZE, SIZE, 3)  # the first two clips
    assert depth["true"].shape == depth["pred"].shape == (2, NUM_FRAMES, SIZE, SIZE, 1)
    tracks = points["true"].shape
    assert tracks[0] == 2 and tracks[2:] == (NUM_FRAMES, 2) and points["pred"].shape == tracks
    assert points["true_visible"].dtype == bool and points["true_visible"].shape == tracks[:3]

    folder = StudyFolder(tmp_path / "study")
    for task, arrays in (("depth", depth), ("points", points)):
        write_npz(folder.probe_examples("mae", "w32", task), arrays)
    results = {"sizes": [{"name": "w16"}, {"name": "w32"}], "summary": {}}
    paths = examples.example_figures(folder, results, plots._save)  # the study's own saver
    assert paths == [folder.path("examples_depth.png"), folder.path("examples_points.png")]
    for path in paths:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        assert image.format == "PNG" and min(pixels.shape[:2]) > 100
        assert pixels.std() > 10, path  # drawn, not blank
