"""tf.data pipelines: folder of videos (with bad files), JPEG TFRecords, TFDS input."""
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from test_video_io import bad_files, pattern

from keras4ds.data import pipelines, tfrecords, video_io

pytestmark = pytest.mark.backend_independent

T, H, W = 4, 16, 24
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def load_tool(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("folder")
    good = []
    for i, (ext, n) in enumerate([("mp4", 10), ("mkv", 8), ("webm", 12), ("avi", 9)]):
        p = d / "sub" / f"good{i}.{ext}" if i % 2 else d / f"good{i}.{ext}"
        p.parent.mkdir(exist_ok=True)
        frames = pattern(n)
        frames[..., 1] = (frames[..., 1].astype(int) + 50 * i) % 256  # tell videos apart
        video_io.write_video(str(p), frames)
        good.append(str(p))
    bad_dir = d / "bad"
    bad_dir.mkdir()
    bad = bad_files(bad_dir)
    bad.pop("missing")
    # A truncated file whose first frames still decode can give a clip: not always bad.
    os.remove(bad.pop("truncated_data"))
    for extra in glob.glob(str(bad_dir / "good_for_cut.mp4")) + glob.glob(str(bad_dir / "faststart.mp4")):
        os.remove(extra)
    return str(d), sorted(good), sorted(bad.values())


def _clips(ds):
    return [(c["path"].decode(), c["video"]) for c in ds.as_numpy_iterator()]


def test_list_videos(folder):
    root, good, bad = folder
    assert pipelines.list_videos(root) == sorted(good + bad)
    with pytest.raises(FileNotFoundError):
        pipelines.list_videos(os.path.join(root, "nope"))


def test_folder_dataset_deterministic_parallel(folder):
    root, good, _ = folder
    kw = dict(num_frames=T, height=H, width=W, stride=2, start="random", seed=3,
              num_parallel_calls=4)
    a = _clips(pipelines.video_folder_dataset(good, **kw))
    b = _clips(pipelines.video_folder_dataset(good, **kw))
    assert [p for p, _ in a] == [p for p, _ in b] and sorted(p for p, _ in a) == good
    for (_, va), (_, vb) in zip(a, b):
        np.testing.assert_array_equal(va, vb)
        assert va.shape == (T, H, W, 3) and va.dtype == np.float32
    c = _clips(pipelines.video_folder_dataset(good, **{**kw, "seed": 4}))
    assert [p for p, _ in a] != [p for p, _ in c] or any(
        not np.array_equal(x, y) for (_, x), (_, y) in zip(a, c))
    # Unshuffled, fixed start: equals decoding each file directly.
    d = _clips(pipelines.video_folder_dataset(good, T, H, W, start="start", shuffle=False))
    for path, video in d:
        np.testing.assert_array_equal(video, video_io.load_clip(path, T, H, W))
    batch = next(iter(pipelines.video_folder_dataset(good, T, H, W, batch_size=3, repeat=True)))
    assert batch["video"].shape == (3, T, H, W, 3)


def test_bad_files_stop_a_strict_pipeline(folder):
    root, good, bad = folder
    ds = pipelines.video_folder_dataset([good[0], bad[0]], T, H, W, shuffle=False)
    with pytest.raises(tf.errors.OpError, match=os.path.basename(bad[0])):
        list(ds)


def test_bad_files_are_skipped_counted_and_reported(folder):
    root, good, bad = folder
    record = pipelines.BadFiles(verbose=False)
    ds = pipelines.video_folder_dataset(root, T, H, W, skip_bad_files=record, seed=1,
                                        num_parallel_calls=1)
    clips = _clips(ds)
    # Every file's element is there; a bad file's is a clip of the next good file.
    assert len(clips) == len(good) + len(bad) and sorted({p for p, _ in clips}) == good
    assert record.count == len(bad) == 5  # each bad file is tried once
    assert sorted(record.errors) == bad
    report = record.report()
    for kind in ["empty file", "not a readable video", "contains no video frames",
                 "shorter than the clip"]:
        assert kind in report, kind


def _counting_decodes(monkeypatch):
    calls = []
    load_clip = video_io.load_clip

    def counted(*args, **kwargs):
        calls.append(args[0])
        return load_clip(*args, **kwargs)
    monkeypatch.setattr(video_io, "load_clip", counted)
    return calls


def test_a_folder_stream_starts_at_an_element_without_decoding_those_before(folder, monkeypatch):
    root, good, _ = folder
    kw = dict(num_frames=T, height=H, width=W, seed=2, repeat=True, num_parallel_calls=None,
              prefetch=False)
    sequential = tf.data.Options()
    sequential.experimental_optimization.map_parallelization = False  # no read-ahead

    def stream(**more):
        return pipelines.video_folder_dataset(good, **kw, **more).with_options(sequential)
    whole = _clips(stream().take(10))
    calls = _counting_decodes(monkeypatch)
    later = _clips(stream(first_element=6).take(4))
    assert len(calls) == 4  # elements 0..5 were not decoded
    assert [p for p, _ in later] == [p for p, _ in whole[6:]]
    for (_, a), (_, b) in zip(later, whole[6:]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="first_element must be >= 0"):
        pipelines.video_folder_dataset(good, first_element=-1, **kw)


def test_tfrecords_write_and_read(folder, tmp_path):
    tool = load_tool("write_tfrecords")
    root, good, bad = folder
    prefix = str(tmp_path / "out" / "videos")
    assert tool.main([root, prefix, "--shards", "3", "--no-progress", "--workers", "2"]) == 0
    shards = sorted(glob.glob(prefix + "-*-of-00003.tfrecord"))
    assert len(shards) == 3
    assert not glob.glob(str(tmp_path / "out" / ".tmp-*"))
    manifest = json.load(open(prefix + ".json"))
    # short.mp4 is a valid (3-frame) video: written, then skipped by a 4-frame reader.
    assert manifest["num_examples"] == len(good) + 1 == sum(manifest["examples_per_shard"])
    assert len(manifest["skipped"]) == len(bad) - 1
    ds = tfrecords.tfrecord_dataset(prefix, T, H, W, start="start", shuffle=False)
    got = {p.decode(): v for p, v in ((c["path"], c["video"]) for c in ds.as_numpy_iterator())}
    assert sorted(got) == sorted(os.path.relpath(g, root) for g in good)
    for rel, video in got.items():
        # TF bilinear resize of JPEG frames vs PIL Lanczos of decoded frames: close.
        ref = video_io.load_clip(os.path.join(root, rel), T, H, W)
        assert np.abs(video - ref).mean() < 0.03
    # Written at the final size: reading does not resize, only JPEG loss remains.
    prefix2 = str(tmp_path / "sized")
    tfrecords.write_tfrecords(good, prefix2, 2, root=root, size=(H, W), progress=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="shorter than the clip"):
        list(tfrecords.tfrecord_dataset(prefix, T, H, W, skip_short=False, shuffle=False))
    ds = tfrecords.tfrecord_dataset(prefix2, T, H, W, stride=2, start="random", seed=5)
    a = [c["video"] for c in ds.as_numpy_iterator()]
    b = [c["video"] for c in tfrecords.tfrecord_dataset(prefix2, T, H, W, stride=2, seed=5)
         .as_numpy_iterator()]
    assert len(a) == 4
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    later = [c["video"] for c in tfrecords.tfrecord_dataset(
        prefix2, T, H, W, stride=2, seed=5, first_element=3).as_numpy_iterator()]
    assert len(later) == 1
    np.testing.assert_array_equal(later[0], a[3])
    ds = tfrecords.tfrecord_dataset(prefix2, T, H, W, start="start", shuffle=False)
    for c in ds.as_numpy_iterator():
        ref = video_io.load_clip(os.path.join(root, c["path"].decode()), T, H, W)
        assert np.abs(c["video"] - ref).mean() < 0.02  # JPEG quality 95 on tiny frames


def test_tfrecords_strict_failure_leaves_nothing(folder, tmp_path):
    root, good, bad = folder
    prefix = str(tmp_path / "strict")
    with pytest.raises(video_io.VideoError):
        tfrecords.write_tfrecords(good + bad, prefix, 2, skip_bad_files=False, progress=False)
    assert os.listdir(tmp_path) == []


def test_tfds_input(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    from keras4ds.data import tfds_synthetic as ts

    config = ts.Synthetic4DConfig(name="clips", num_frames=6, height=16, width=16,
                                  num_train=3, num_validation=1, options={"num_tracks": 4})
    builder = ts.Keras4dsSynthetic4d(data_dir=str(tmp_path), config=config)
    builder.download_and_prepare()
    ds = pipelines.tfds_video_dataset(builder, "train", num_frames=3, height=8, width=12,
                                      stride=2, start="random", seed=2, keep_keys=["seed"])
    a = list(ds.as_numpy_iterator())
    b = list(pipelines.tfds_video_dataset(builder, "train", num_frames=3, height=8, width=12,
                                          stride=2, start="random", seed=2,
                                          keep_keys=["seed"]).as_numpy_iterator())
    assert len(a) == 3 and a[0]["video"].shape == (3, 8, 12, 3)
    for x, y in zip(a, b):
        assert x["seed"] == y["seed"]
        np.testing.assert_array_equal(x["video"], y["video"])


def test_a_tfds_stream_starts_at_an_element_without_decoding_those_before(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    from keras4ds.data import tfds_synthetic as ts

    config = ts.Synthetic4DConfig(name="resume", num_frames=6, height=16, width=16,
                                  num_train=5, num_validation=1, options={"num_tracks": 4})
    builder = ts.Keras4dsSynthetic4d(data_dir=str(tmp_path), config=config)
    builder.download_and_prepare()
    feature, decoded = builder.info.features["video"], []
    original = feature.decode_example

    def counted(frames):
        """The feature's decoding, with every decoded frame counted as it runs."""
        count = tf.numpy_function(lambda n: decoded.append(int(n)) or n, [tf.size(frames)],
                                  tf.int32, stateful=True)
        with tf.control_dependencies([count]):
            return original(tf.identity(frames))

    feature.decode_example = counted
    kw = dict(num_frames=3, height=8, width=12, stride=2, start="random", seed=2,
              keep_keys=["seed"], repeat=True, num_parallel_calls=None, prefetch=False)
    whole = list(pipelines.tfds_video_dataset(builder, "train", **kw).take(9)
                 .as_numpy_iterator())
    decoded.clear()
    later = list(pipelines.tfds_video_dataset(builder, "train", first_element=6, **kw).take(3)
                 .as_numpy_iterator())
    assert decoded == [3, 3, 3]  # the clip's 3 frames of each kept element, nothing before
    assert [int(x["seed"]) for x in later] == [int(x["seed"]) for x in whole[6:]]
    for a, b in zip(later, whole[6:]):
        np.testing.assert_array_equal(a["video"], b["video"])
    with pytest.raises(ValueError, match="first_element must be >= 0"):
        pipelines.tfds_video_dataset(builder, "train", first_element=-1, **kw)
