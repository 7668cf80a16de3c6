"""Turn `keras4ds.data.synthetic.generate_clip` dicts into probe `(inputs, targets)`.

Coordinates: y, x in [0, 1] image units (pixel raster coordinates divided by H, W);
boxes [ymin, xmin, ymax, xmax] in [0, 1]; poses camera t -> camera 0 (`E_0 inv(E_t)`).
"""
import numpy as np

TASKS = ("depth", "pose", "points", "boxes", "classify")
_NEEDS = {"depth": ("video", "depth"), "pose": ("video", "extrinsics"),
          "points": ("video", "tracks", "visible"), "boxes": ("video", "boxes", "box_visible"),
          "classify": ("video", "label")}


def check_task(task):
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}")


def relative_poses(extrinsics):
    """World-to-camera `(..., T, 4, 4)` -> camera t -> camera 0 poses `(..., T, 4, 4)`."""
    extrinsics = np.asarray(extrinsics, np.float64)
    return (extrinsics[..., :1, :, :] @ np.linalg.inv(extrinsics)).astype(np.float32)


def point_queries(tracks, visible, height, width, num_queries, rng):
    """Sample `num_queries` tracks visible somewhere, queried at their first visible frame.

    tracks `(N, T, 2)` pixel (x, y), visible `(N, T)`. Returns query_points `(Q, 3)` (t, y, x)
    in [0, 1] units, tracks `(Q, T, 2)` in [0, 1] units and visible `(Q, T)` float32.
    """
    candidates = np.flatnonzero(visible.any(axis=1))
    if candidates.size == 0:
        raise ValueError("clip has no visible track to query")
    chosen = rng.choice(candidates, num_queries, replace=candidates.size < num_queries)
    scale = np.array([width, height], np.float32)
    unit_tracks = tracks[chosen] / scale
    first = visible[chosen].argmax(axis=1)
    start = unit_tracks[np.arange(num_queries), first]
    queries = np.stack([first.astype(np.float32), start[:, 1], start[:, 0]], axis=-1)
    return queries.astype(np.float32), unit_tracks.astype(np.float32), visible[chosen].astype(np.float32)


def probe_batch(task, clips, num_queries=32, seed=0):
    """Stack clips into `(inputs, targets)` dicts of numpy arrays for `task`.

    depth: ({video}, {depth}); pose: ({video}, {pose}); points: ({video, query_points},
    {tracks, visible}); boxes: ({video, query_boxes}, {boxes, box_visible});
    classify: ({video}, {label}) from each clip's "label".
    """
    check_task(task)
    clips = list(clips)
    if not clips:
        raise ValueError("no clips given")
    missing = [k for k in _NEEDS[task] if k not in clips[0]]
    if missing:
        raise KeyError(f"task {task!r} needs clip keys {_NEEDS[task]}; missing {missing}")
    inputs = {"video": np.stack([c["video"] for c in clips]).astype(np.float32)}
    if task == "depth":
        return inputs, {"depth": np.stack([c["depth"] for c in clips]).astype(np.float32)}
    if task == "pose":
        return inputs, {"pose": relative_poses(np.stack([c["extrinsics"] for c in clips]))}
    if task == "classify":
        return inputs, {"label": np.array([c["label"] for c in clips], np.int32)}
    if task == "boxes":
        boxes = np.stack([c["boxes"] for c in clips]).astype(np.float32)
        inputs["query_boxes"] = boxes[:, :, 0]
        return inputs, {"boxes": boxes,
                        "box_visible": np.stack([c["box_visible"] for c in clips]).astype(np.float32)}
    height, width = clips[0]["video"].shape[1:3]
    sampled = [point_queries(c["tracks"], c["visible"], height, width, num_queries,
                             np.random.default_rng([seed, i])) for i, c in enumerate(clips)]
    inputs["query_points"] = np.stack([s[0] for s in sampled])
    return inputs, {"tracks": np.stack([s[1] for s in sampled]),
                    "visible": np.stack([s[2] for s in sampled])}
