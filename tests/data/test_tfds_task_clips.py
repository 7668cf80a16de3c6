"""The TFDS builder of real probe clips, on small files written here in each format: built
datasets decode to exactly the reader's clips."""
import os

import numpy as np
import pytest
from format_writers import tapvid_video, write_box_video, write_pickle, write_re10k, write_scannet

from keras4ds.data import task_clips as tc
from keras4ds.data.synthetic import generate_clip
from keras4ds.data.video_io import write_video

pytestmark = pytest.mark.backend_independent
tfds = pytest.importorskip("tensorflow_datasets")

T, H, W = 4, 16, 24


def write_source(fmt, root):
    """A small source of `fmt` in `root`."""
    clip = generate_clip(3, num_frames=8, height=24, width=32, num_tracks=6, num_objects=2,
                         camera_motion="orbit")
    if fmt == "tapvid":
        write_pickle(os.path.join(root, "davis.pkl"), {"bear": tapvid_video(0, t=8),
                                                       "cows": tapvid_video(1, t=8)})
    elif fmt == "scannet":
        write_scannet(os.path.join(root, "scene0000_00"), clip)
    elif fmt == "re10k":
        write_re10k(os.path.join(root, "0123456789abcdef.txt"), clip, frames=True)
    elif fmt == "videofolder":
        for label in ("jump", "walk"):
            os.makedirs(os.path.join(root, label))
            write_video(os.path.join(root, label, "0.mkv"), clip["video"])
    else:
        write_box_video(root, "cars", clip)


@pytest.mark.parametrize("fmt, task", [(f, t) for f, ts in tc.FORMATS.items() for t in ts[:1]])
def test_built_dataset_decodes_to_the_readers_clips(tmp_path, fmt, task):
    from keras4ds.data.tfds_task_clips import Keras4dsTaskClips, TaskClipsConfig, decode_example

    source = tmp_path / "source"
    source.mkdir()
    write_source(fmt, str(source))
    expected = {c["name"]: c for c in tc.task_clips(task, f"{fmt}:{source}", T, (H, W))}
    config = TaskClipsConfig(name="unit", format=fmt, task=task, num_frames=T, height=H, width=W)
    builder = Keras4dsTaskClips(data_dir=str(tmp_path / "tfds"), config=config)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(source)))
    got = [{k: v.numpy() for k, v in example.items()}
           for example in builder.as_dataset(split="train").map(decode_example)]
    assert builder.info.splits["train"].num_examples == len(expected) > 0
    assert sorted(g["name"].decode() for g in got) == sorted(expected)
    for example in got:
        clip = expected[example.pop("name").decode()]
        assert set(example) == set(clip) - {"name"}
        for key, value in example.items():
            assert value.dtype == np.asarray(clip[key]).dtype or key == "label", key
            np.testing.assert_array_equal(value, clip[key], err_msg=key)


def test_a_format_that_does_not_give_the_task_is_refused(tmp_path):
    from keras4ds.data.tfds_task_clips import Keras4dsTaskClips, TaskClipsConfig

    config = TaskClipsConfig(name="wrong", format="re10k", task="depth")
    with pytest.raises(ValueError, match="format 're10k' does not give 'depth' clips"):
        Keras4dsTaskClips(data_dir=str(tmp_path), config=config).info
