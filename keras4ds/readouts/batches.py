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


def clip_count(clips):
    """How many clips: a list of clip dicts, or a dict of arrays with a leading clip axis."""
    if isinstance(clips, dict):
        return len(next(iter(clips.values()))) if clips else 0
    return len(clips)


def probe_batch(task, clips, num_queries=32, seed=0):
    """Clips -> `(inputs, targets)` dicts of numpy arrays for `task`.

    `clips`: a list of clip dicts (the keys of `generate_clip`), or one dict of those keys'
    arrays stacked on a leading clip axis (used as they are, not split and stacked again).
    depth: ({video}, {depth}); pose: ({video}, {pose}); points: ({video, query_points},
    {tracks, visible}); boxes: ({video, query_boxes}, {boxes, box_visible});
    classify: ({video}, {label}) from each clip's "label".
    """
    check_task(task)
    stacked = isinstance(clips, dict)
    clips = clips if stacked else list(clips)
    if not clip_count(clips):
        raise ValueError("no clips given")
    keys = clips if stacked else clips[0]
    missing = [k for k in _NEEDS[task] if k not in keys]
    if missing:
        raise KeyError(f"task {task!r} needs clip keys {_NEEDS[task]}; missing {missing}")

    def field(key):
        return np.asarray(clips[key]) if stacked else np.stack([c[key] for c in clips])

    inputs = {"video": field("video").astype(np.float32)}
    if task == "depth":
        return inputs, {"depth": field("depth").astype(np.float32)}
    if task == "pose":
        return inputs, {"pose": relative_poses(field("extrinsics"))}
    if task == "classify":
        return inputs, {"label": field("label").astype(np.int32).reshape(-1)}
    if task == "boxes":
        boxes = field("boxes").astype(np.float32)
        inputs["query_boxes"] = boxes[:, :, 0]
        return inputs, {"boxes": boxes, "box_visible": field("box_visible").astype(np.float32)}
    height, width = inputs["video"].shape[2:4]
    tracks, visible = (clips["tracks"], clips["visible"]) if stacked else (
        [c["tracks"] for c in clips], [c["visible"] for c in clips])
    sampled = [point_queries(np.asarray(t), np.asarray(v), height, width, num_queries,
                             np.random.default_rng([seed, i]))
               for i, (t, v) in enumerate(zip(tracks, visible))]
    inputs["query_points"] = np.stack([s[0] for s in sampled])
    return inputs, {"tracks": np.stack([s[1] for s in sampled]),
                    "visible": np.stack([s[2] for s in sampled])}
