"""Writers of small files in the published community formats (TAP-Vid, RealEstate10K,
ScanNet) and in keras4ds' box-track layout, shared by the format-reader, task-clip, TFDS
and study tests."""
import json
import os
import pickle

import numpy as np
from PIL import Image


def tapvid_video(seed, t=12, h=24, w=32, n=9):
    """A random TAP-Vid video dict; track 0 is never visible, track 1 hidden until frame 7."""
    rng = np.random.default_rng(seed)
    occ = rng.random((n, t)) < 0.4
    occ[0] = True  # never visible: dropped by query-first
    occ[1, :7] = True
    return {
        "video": rng.integers(0, 255, (t, h, w, 3), dtype=np.uint8),
        "points": rng.random((n, t, 2)).astype(np.float32),
        "occluded": occ,
    }


def write_pickle(path, data) -> str:
    """Pickle `data` (a TAP-Vid dict of videos or list of videos) to `path`."""
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return str(path)


def re10k_timestamp(i: int) -> int:
    """Microsecond timestamp of frame i in the camera files written here."""
    return 1000000 + 33366 * i


def write_re10k(path, clip, url="https://www.youtube.com/watch?v=abcdefghijk", frames=False):
    """A RealEstate10K camera file of `clip`'s cameras (frame i at 1000000 + 33366 i us);
    with `frames`, the clip's frames too, as `<stem>/<timestamp>.png` beside it."""
    t, h, w = clip["segmentation"].shape
    if frames:
        folder = os.path.splitext(path)[0]
        os.makedirs(folder, exist_ok=True)
        for i in range(t):
            Image.fromarray(np.round(clip["video"][i] * 255).astype(np.uint8)).save(
                os.path.join(folder, f"{re10k_timestamp(i)}.png"))
    lines = [url]
    for i in range(t):
        k, e = clip["intrinsics"][i].astype(np.float64), clip["extrinsics"][i].astype(np.float64)
        vals = [k[0, 0] / w, k[1, 1] / h, k[0, 2] / w, k[1, 2] / h, 0, 0]
        vals += list(e[:3, :4].reshape(-1))
        lines.append(" ".join([str(re10k_timestamp(i))] + [repr(float(x)) for x in vals]))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_scannet(root, clip, invalid_frame=None):
    """`clip` as a ScanNet-style sequence folder; `invalid_frame`'s pose is -inf."""
    t, h, w = clip["segmentation"].shape
    for sub in ["color", "depth", "pose", "intrinsic"]:
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    k4 = np.eye(4)
    k4[:3, :3] = clip["intrinsics"][0]
    k4[0, 2] -= 0.5  # the files use OpenCV's integer pixel centres
    k4[1, 2] -= 0.5
    np.savetxt(os.path.join(root, "intrinsic", "intrinsic_color.txt"), k4)
    np.savetxt(os.path.join(root, "intrinsic", "intrinsic_depth.txt"), k4)
    for i in range(t):
        Image.fromarray(np.round(clip["video"][i] * 255).astype(np.uint8)).save(
            os.path.join(root, "color", f"{i}.jpg"), quality=98)
        mm = np.round(clip["depth"][i, ..., 0] * 1000).astype(np.uint16)
        Image.fromarray(mm).save(os.path.join(root, "depth", f"{i}.png"))
        pose = np.linalg.inv(clip["extrinsics"][i].astype(np.float64))
        if i == invalid_frame:
            pose[:] = -np.inf
        np.savetxt(os.path.join(root, "pose", f"{i}.txt"), pose)


def write_box_video(folder, name, clip, visible=True):
    """`clip`'s video as NAME.mkv (lossless FFV1) and its boxes as NAME.boxes.json."""
    from keras4ds.data.formats import BOX_TRACKS_SUFFIX
    from keras4ds.data.video_io import write_video

    write_video(os.path.join(folder, f"{name}.mkv"), clip["video"])
    data = {"boxes": clip["boxes"].tolist()}
    if visible:
        data["visible"] = clip["box_visible"].tolist()
    with open(os.path.join(folder, f"{name}{BOX_TRACKS_SUFFIX}"), "w") as f:
        json.dump(data, f)
