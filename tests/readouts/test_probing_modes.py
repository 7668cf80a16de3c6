"""Probing modes of train_probe (tiny shapes, any backend): features cached on disk once
for a frozen encoder, and multi-clip classification of eval videos longer than the encoder's
clips."""
import os

import keras
import numpy as np
import pytest

from keras4ds.readouts import compute_features, features, task_metrics, train_probe
from keras4ds.readouts.classify import clip_windows

SETTINGS = dict(steps=3, batch_size=2, learning_rate=1e-2, num_params=32, num_heads=2,
                num_logs=3)


@pytest.fixture
def computed(monkeypatch):
    """The number of videos whose features `readouts.features` computes (not reads)."""
    count = [0]
    compute = features.compute_features

    def counting(encoder, videos, *args, **kwargs):
        count[0] += len(videos)
        return compute(encoder, videos, *args, **kwargs)
    monkeypatch.setattr(features, "compute_features", counting)
    return count


@pytest.fixture(scope="module")
def long_clips(clips):
    """Six clips twice as long as `clips` (8 frames), labelled by camera motion (static, orbit)."""
    from keras4ds.data.synthetic import generate_clip
    frames, size = clips[0]["video"].shape[:2]
    out = []
    for seed in range(6):
        label = seed % 2
        clip = generate_clip(seed, 2 * frames, size, size, num_tracks=8, num_objects=2,
                             camera_motion=("static", "orbit")[label])
        clip["label"] = label
        out.append(clip)
    return out


def _files(directory):
    return {name: os.stat(os.path.join(directory, name)).st_mtime_ns
            for name in os.listdir(directory)}


def test_cache_is_read_back_and_keyed_by_encoder_videos_and_index(make_encoder, clips, tmp_path,
                                                                  computed):
    encoder = make_encoder()
    videos = np.stack([c["video"] for c in clips[:3]])
    first = features.cache_features(str(tmp_path), encoder, videos, readout_index=[1, 2])
    assert first.shape == (3, 8, 64) and computed[0] == 3
    np.testing.assert_allclose(first, compute_features(encoder, videos, [1, 2]),
                               rtol=1e-5, atol=1e-6)
    written = _files(tmp_path)
    assert len(written) == 1
    again = features.cache_features(str(tmp_path), encoder, videos, readout_index=[1, 2])
    np.testing.assert_array_equal(again, first)
    assert computed[0] == 3 and _files(tmp_path) == written
    changed = videos.copy()
    changed[1, 2, 3, 4, 0] += 0.01
    features.cache_features(str(tmp_path), encoder, changed, readout_index=[1, 2])
    features.cache_features(str(tmp_path), encoder, videos, readout_index=2)
    same_shape = make_encoder()  # another initialisation of the same architecture
    features.cache_features(str(tmp_path), same_shape, videos, readout_index=[1, 2])
    weight = encoder.weights[-1]
    weight.assign(weight + 1e-3)
    features.cache_features(str(tmp_path), encoder, videos, readout_index=[1, 2])
    assert len(_files(tmp_path)) == 5 and computed[0] == 3 + 4 * 3
    assert all(_files(tmp_path)[name] == stamp for name, stamp in written.items())


def test_train_probe_reuses_its_cache_and_trains_the_same_head(make_encoder, clips, tmp_path,
                                                              computed):
    encoder = make_encoder()
    plain = train_probe("classify", encoder, clips[:4], clips[4:6], **SETTINGS)
    cached = train_probe("classify", encoder, clips[:4], clips[4:6], **SETTINGS,
                         feature_cache=str(tmp_path))
    assert computed[0] == 4 + 2 and len(_files(tmp_path)) == 2
    written = _files(tmp_path)
    reused = train_probe("classify", encoder, clips[:4], clips[4:6], **SETTINGS,
                         feature_cache=str(tmp_path))
    assert computed[0] == 6 and _files(tmp_path) == written
    assert reused["loss_history"] == cached["loss_history"]
    assert reused["metrics"] == cached["metrics"]
    np.testing.assert_allclose(cached["loss_history"], plain["loss_history"], rtol=1e-5)
    other_eval = train_probe("classify", encoder, clips[:4], clips[6:8], **SETTINGS,
                             feature_cache=str(tmp_path))
    assert computed[0] == 6 + 2 and len(_files(tmp_path)) == 3  # the train file is reused
    assert set(other_eval["metrics"]) == {"top1", "top5"}


def test_feature_cache_refuses_a_fine_tuned_encoder(make_encoder, clips, tmp_path):
    with pytest.raises(ValueError, match="feature_cache needs a frozen encoder"):
        train_probe("classify", make_encoder(), clips[:4], clips[4:6], **SETTINGS, frozen=False,
                    feature_cache=str(tmp_path))
    assert not os.listdir(tmp_path)


def test_clip_windows_are_evenly_spaced_and_checked():
    videos = np.arange(2 * 9, dtype=np.float32).reshape(2, 9, 1, 1, 1) * np.ones((1, 1, 2, 2, 3))
    windows = clip_windows(videos, 4, 3)
    assert windows.shape == (2, 3, 4, 2, 2, 3)
    np.testing.assert_array_equal(windows[0, :, 0, 0, 0, 0], [0, 2, 5])  # round(0, 2.5, 5)
    np.testing.assert_array_equal(clip_windows(videos, 4, 1), videos[:, None, :4])
    with pytest.raises(ValueError, match=r"num_clips must be an int in \[1, 6\]"):
        clip_windows(videos, 4, 7)
    with pytest.raises(ValueError, match="fewer than a window of 10"):
        clip_windows(videos, 10, 1)


@pytest.mark.parametrize("frozen", [True, False])
def test_multi_clip_scores_average_the_softmax_of_each_window(make_encoder, clips, long_clips,
                                                              tmp_path, frozen):
    encoder = make_encoder()
    result = train_probe("classify", encoder, clips[:4], long_clips, **SETTINGS, test_clips=3,
                         frozen=frozen, readout_index=2, return_probe=True,
                         feature_cache=str(tmp_path) if frozen else None)
    probe, labels = result["probe"], result["eval_targets"]["label"]
    videos, frames = np.stack([c["video"] for c in long_clips]), encoder.num_frames
    np.testing.assert_array_equal(result["eval_inputs"]["video"], videos[:, :frames])
    per_window = [keras.ops.convert_to_numpy(keras.ops.softmax(
        probe.predict({"video": videos[:, s:s + frames]}, verbose=0))) for s in (0, 2, 4)]
    by_hand = np.mean(per_window, axis=0)
    np.testing.assert_allclose(result["multi_clip_scores"], by_hand, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(result["predictions"])),
                               per_window[0], rtol=1e-5, atol=1e-6)
    assert result["test_clips"] == 3
    assert result["multi_clip_metrics"] == task_metrics("classify", {}, {"label": labels}, by_hand)
    assert set(result["metrics"]) == set(result["multi_clip_metrics"]) == {"top1", "top5"}
    assert result["multi_clip_metrics"]["top5"] == 1.0  # 2 classes: the top min(5, C) = all


def test_multi_clip_arguments_are_checked(make_encoder, clips, long_clips):
    encoder = make_encoder()
    with pytest.raises(ValueError, match="eval clips have 8 frames, the encoder takes 4; "
                                         "pass test_clips"):
        train_probe("classify", encoder, clips[:4], long_clips, **SETTINGS)
    with pytest.raises(ValueError, match="test_clips .* is for task 'classify'; got 'depth'"):
        train_probe("depth", encoder, clips[:4], clips[4:6], **SETTINGS, test_clips=2)
    with pytest.raises(ValueError, match=r"num_clips must be an int in \[1, 5\]"):
        train_probe("classify", encoder, clips[:4], long_clips, **SETTINGS, test_clips=6)
