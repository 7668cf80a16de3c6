"""Box-track clips (`boxtracks:DIR`): real video files with NAME.boxes.json beside them."""
import numpy as np
import pytest
from format_writers import write_box_video

from keras4ds.data import formats
from keras4ds.data import task_clips as tc
from keras4ds.data.synthetic import generate_clip
from keras4ds.data.video_io import write_video
from keras4ds.readouts.batches import probe_batch

pytestmark = pytest.mark.backend_independent


def test_box_clips_cut_windows_and_keep_objects_seen_in_their_first_frame(tmp_path):
    clip = generate_clip(4, num_frames=9, height=32, width=32, num_tracks=4, num_objects=3)
    clip["box_visible"][1, :4] = False  # object 1 hidden in the first window
    clip["boxes"][1, :4] = 0.0
    write_box_video(tmp_path, "b", clip)
    write_box_video(tmp_path, "a", generate_clip(5, num_frames=4, height=32, width=32,
                                                 num_tracks=4, num_objects=2))
    clips = list(tc.task_clips("boxes", f"boxtracks:{tmp_path}", 4, (16, 24)))
    assert [c["name"] for c in clips] == ["a.mkv[0:4]", "b.mkv[0:4]", "b.mkv[4:8]"]
    first, second = clips[1], clips[2]
    assert first["video"].shape == (4, 16, 24, 3) and first["video"].dtype == np.float32
    kept = [k for k in range(3) if k != 1]
    np.testing.assert_array_equal(first["boxes"], clip["boxes"][kept, :4])
    np.testing.assert_array_equal(first["box_visible"], clip["box_visible"][kept, :4])
    assert second["boxes"].shape == (3, 4, 4)
    np.testing.assert_array_equal(second["boxes"], clip["boxes"][:, 4:8])
    # Stacked, the two-object windows are padded with never-visible objects.
    stacked = tc.stack_clips(clips)
    assert stacked["boxes"].shape == (3, 3, 4, 4)
    assert not stacked["box_visible"][0, 2].any() and not stacked["box_visible"][1, 2].any()
    inputs, targets = probe_batch("boxes", stacked)
    np.testing.assert_array_equal(inputs["query_boxes"], stacked["boxes"][:, :, 0])
    assert targets["box_visible"].shape == (3, 3, 4)


def test_without_visible_a_box_is_visible_when_it_has_an_area(tmp_path):
    clip = generate_clip(6, num_frames=4, height=32, width=32, num_tracks=4, num_objects=2)
    assert clip["box_visible"][:, 0].all()
    clip["boxes"][0, 2] = 0.0
    write_box_video(tmp_path, "v", clip, visible=False)
    (only,) = tc.task_clips("boxes", f"boxtracks:{tmp_path}", 4, 32)
    expected = clip["box_visible"].copy()
    expected[0, 2] = False
    np.testing.assert_array_equal(only["box_visible"], expected)


@pytest.mark.parametrize("content, message", [
    ("not json", "not a JSON box-track file"),
    ('{"tracks": []}', "expected an object with 'boxes'"),
    ('{"boxes": [[[0, 0, 1, 1]]]}', "4 frames of the video"),
    ('{"boxes": [[[0, 0, 2, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]]}', "in [0, 1]"),
    ('{"boxes": [[[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]], '
     '"visible": [[1, 1, 1, 1]]}', "'visible' must be booleans"),
    ('{"boxes": [[[0.5, 0, 0.2, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]], '
     '"visible": [[true, true, true, true]]}', "ymin > ymax"),
])
def test_bad_box_files_are_errors_naming_the_file(tmp_path, content, message):
    clip = generate_clip(7, num_frames=4, height=32, width=32, num_tracks=4, num_objects=1)
    write_video(tmp_path / "v.mkv", clip["video"])
    path = tmp_path / f"v{formats.BOX_TRACKS_SUFFIX}"
    path.write_text(content)
    with pytest.raises(formats.FormatError, match="v.boxes.json") as error:
        list(tc.task_clips("boxes", f"boxtracks:{tmp_path}", 4, 32))
    assert message in str(error.value)


def test_a_video_without_its_box_file_and_an_empty_folder_are_errors(tmp_path):
    write_video(tmp_path / "v.mkv", generate_clip(8, num_frames=4, height=32, width=32,
                                                 num_tracks=4)["video"])
    with pytest.raises(formats.FormatError, match=r"v\.boxes\.json: no such file"):
        list(tc.task_clips("boxes", f"boxtracks:{tmp_path}", 4, 32))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(formats.FormatError, match="no videos"):
        list(tc.task_clips("boxes", f"boxtracks:{empty}", 4, 32))
    with pytest.raises(ValueError, match="format 'boxtracks' gives boxes clips"):
        tc.check_source("points", f"boxtracks:{tmp_path}")
