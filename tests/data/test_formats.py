"""Community format readers, on small files written here in the published formats."""
import io
import os
import pickle

import numpy as np
import pytest
from format_writers import tapvid_video, write_pickle, write_re10k, write_scannet
from PIL import Image
from test_synthetic import _project

from keras4ds.data import formats
from keras4ds.data.synthetic import generate_clip, generate_clip_with_scene

pytestmark = pytest.mark.backend_independent


# ------------------------------------------------------------------------------ TAP-Vid


def _reference_strided(occ, pts, stride):
    """tapnet's evaluation_datasets.sample_queries_strided, written out plainly."""
    q, tr, oc, grp = [], [], [], []
    for i in range(0, occ.shape[1], stride):
        for n in range(occ.shape[0]):
            if not occ[n, i]:
                q.append([i, pts[n, i, 1], pts[n, i, 0]])
                tr.append(pts[n])
                oc.append(occ[n])
                grp.append(n)
    return np.array(q), np.array(tr), np.array(oc), np.array(grp)


@pytest.fixture(scope="module")
def davis_pickle(tmp_path_factory):
    d = tmp_path_factory.mktemp("tapvid")
    data = {"bear": tapvid_video(0), "camel": tapvid_video(1, t=11)}
    return write_pickle(d / "tapvid_davis.pkl", data), data


def test_tapvid_davis_strided_matches_tapnet(davis_pickle):
    path, data = davis_pickle
    examples = list(formats.tapvid_examples(path, "strided", resolution=None))
    assert [e["name"] for e in examples] == ["bear", "camel"]
    for ex in examples:
        v = data[ex["name"]]
        t, h, w = v["video"].shape[:3]
        np.testing.assert_allclose(ex["video"], v["video"] / 255.0, atol=1e-7)
        pts = v["points"] * [w, h]
        q, tr, oc, grp = _reference_strided(v["occluded"], pts, 5)
        np.testing.assert_allclose(ex["query_points"], q, rtol=1e-6)
        np.testing.assert_allclose(ex["target_points"], tr, rtol=1e-6)
        np.testing.assert_array_equal(ex["occluded"], oc)
        np.testing.assert_array_equal(ex["trackgroup"], grp)


def test_tapvid_query_first(davis_pickle):
    path, data = davis_pickle
    ex = next(formats.tapvid_examples(path, "first", resolution=(48, 40)))
    v = data["bear"]
    assert ex["video"].shape == (12, 48, 40, 3)
    keep = [n for n in range(9) if (~v["occluded"][n]).any()]
    np.testing.assert_array_equal(ex["trackgroup"], keep)
    assert 0 not in ex["trackgroup"]
    for q, n in zip(ex["query_points"], keep):
        first = int(np.argmax(~v["occluded"][n]))
        assert q[0] == first and not v["occluded"][n, first]
        # Points are scaled to the resized frames: normalised * (W, H).
        np.testing.assert_allclose(q[1:], v["points"][n, first, ::-1] * [48, 40], rtol=1e-6)
    assert ex["query_points"][list(keep).index(1), 0] == 7


def test_tapvid_kinetics_jpeg_lists(tmp_path):
    videos = []
    for seed in range(2):
        v = tapvid_video(seed + 5, t=6, h=16, w=16, n=4)
        jpegs = []
        for f in v["video"]:
            buf = io.BytesIO()
            Image.fromarray(f).save(buf, format="JPEG", quality=95)
            jpegs.append(buf.getvalue())
        videos.append({**v, "video": jpegs})
    for i in range(2):
        with open(tmp_path / f"000{i}_of_0010.pkl", "wb") as f:
            pickle.dump(videos, f)
    examples = list(formats.tapvid_examples(str(tmp_path / "*_of_0010.pkl"), "first",
                                            resolution=None))
    assert len(examples) == 4
    assert examples[0]["name"] == "0000_of_0010.pkl:0"
    assert examples[0]["video"].shape == (6, 16, 16, 3)


def test_tapvid_round_trip_of_a_synthetic_clip(tmp_path):
    clip = generate_clip(4, num_frames=8, height=24, width=32, num_tracks=20)
    h, w = 24, 32
    data = {"synthetic": {"video": np.round(clip["video"] * 255).astype(np.uint8),
                          "points": clip["tracks"] / np.array([w, h], np.float32),
                          "occluded": ~clip["visible"]}}
    path = tmp_path / "synthetic.pkl"
    with open(path, "wb") as f:
        pickle.dump(data, f)
    ex = next(formats.tapvid_examples(str(path), "first", resolution=None))
    np.testing.assert_allclose(ex["target_points"], clip["tracks"][ex["trackgroup"]], atol=1e-4)
    np.testing.assert_array_equal(ex["occluded"], ~clip["visible"][ex["trackgroup"]])


def test_tapvid_bad_files(tmp_path):
    p = tmp_path / "junk.pkl"
    p.write_bytes(b"not a pickle")
    with pytest.raises(formats.FormatError, match="junk.pkl"):
        formats.load_tapvid(str(p))
    with open(p, "wb") as f:
        pickle.dump({"v": {"video": np.zeros((3, 4, 4, 3), np.uint8)}}, f)
    with pytest.raises(formats.FormatError, match="lacks"):
        formats.load_tapvid(str(p))
    with pytest.raises(formats.FormatError, match="no such file"):
        formats.load_tapvid(str(tmp_path / "missing.pkl"))


# ------------------------------------------------------------------------ RealEstate10K


def test_realestate10k_cameras(tmp_path):
    clip, extras = generate_clip_with_scene(6, num_frames=5, height=24, width=32, num_tracks=10,
                                            camera_motion="orbit")
    path = tmp_path / "0123456789abcdef.txt"
    write_re10k(path, clip)
    cams = formats.read_realestate10k(str(path))
    assert cams["url"].startswith("https://")
    np.testing.assert_array_equal(cams["timestamps"], 1000000 + 33366 * np.arange(5))
    np.testing.assert_allclose(cams["extrinsics"], clip["extrinsics"], atol=1e-6)
    k = formats.realestate10k_intrinsics(cams["intrinsics_normalized"], 24, 32)
    np.testing.assert_allclose(k, clip["intrinsics"], rtol=1e-6)
    # The cameras project the scene's points onto the tracks.
    xy, z = _project({"intrinsics": k, "extrinsics": cams["extrinsics"]},
                     extras["track_points_world"])
    np.testing.assert_allclose(clip["tracks"][z > 0], xy[z > 0], atol=2e-3)
    # Other frame sizes scale the intrinsics.
    k2 = formats.realestate10k_intrinsics(cams["intrinsics_normalized"], 48, 64)
    np.testing.assert_allclose(k2[:, :2], clip["intrinsics"][:, :2] * 2, rtol=1e-6)


def test_realestate10k_bad_lines(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("https://example.invalid/v\n123 0.5 0.5 0.5\n")
    with pytest.raises(formats.FormatError, match=r"bad.txt:2: expected 19 numbers"):
        formats.read_realestate10k(str(p))
    p.write_text("https://example.invalid/v\n")
    with pytest.raises(formats.FormatError, match="no camera lines"):
        formats.read_realestate10k(str(p))


# ------------------------------------------------------------------------------ ScanNet


def test_scannet_sequence(tmp_path):
    clip, extras = generate_clip_with_scene(8, num_frames=6, height=24, width=32, num_tracks=10)
    root = str(tmp_path / "scene0000_00")
    write_scannet(root, clip, invalid_frame=5)
    seq = formats.ScanNetSequence(root)
    assert seq.frame_ids == list(range(6)) and len(seq) == 6
    raw = seq.read_frame(2)
    assert raw["depth"].dtype == np.float32 and raw["color"].shape == (24, 32, 3)
    np.testing.assert_allclose(raw["depth"], clip["depth"][2, ..., 0], atol=0.0006)
    out = seq.load_clip(num_frames=5, height=24, width=32)
    np.testing.assert_allclose(out["intrinsics"], clip["intrinsics"][:5], rtol=1e-6)
    np.testing.assert_allclose(out["extrinsics"], clip["extrinsics"][:5], atol=1e-5)
    np.testing.assert_allclose(out["depth"], clip["depth"][:5], atol=0.0006)
    assert np.abs(out["video"] - clip["video"][:5]).mean() < 0.03
    assert out["pose_valid"].all()
    # Downsized clip: intrinsics scale with the frames; depth is resampled, not blended.
    small = seq.load_clip(num_frames=3, height=12, width=16, start=3, stride=1)
    np.testing.assert_allclose(small["intrinsics"][:, :2], clip["intrinsics"][3:6, :2] / 2,
                               rtol=1e-6)
    assert set(np.unique(small["depth"])) <= set(np.unique(np.round(clip["depth"] * 1000) / 1000))
    assert list(small["pose_valid"]) == [True, True, False]
    np.testing.assert_array_equal(small["extrinsics"][2], np.eye(4))
    with pytest.raises(Exception, match="shorter than the clip"):
        seq.load_clip(num_frames=7)


def test_scannet_bad_layouts(tmp_path):
    with pytest.raises(formats.FormatError, match="no color/ folder"):
        formats.ScanNetSequence(str(tmp_path))
    clip = generate_clip(1, num_frames=2, height=8, width=8, num_tracks=2)
    root = str(tmp_path / "s")
    write_scannet(root, clip)
    os.remove(os.path.join(root, "intrinsic", "intrinsic_color.txt"))
    with pytest.raises(formats.FormatError, match="intrinsic_color.txt: no such file"):
        formats.ScanNetSequence(root)
    write_scannet(root, clip)
    with open(os.path.join(root, "pose", "1.txt"), "w") as f:
        f.write("1 2 3\n")
    with pytest.raises(formats.FormatError, match="1.txt: expected a 4x4 matrix"):
        formats.ScanNetSequence(root).read_frame(1)
