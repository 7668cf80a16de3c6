"""Frames as arrays: resizing uint8 ``(T, h, w, 3)`` frames (straight, or a centred crop of
the target aspect) and scaling them to float32 in [0, 1], the 4DS input range."""
from __future__ import annotations

import numpy as np
from PIL import Image

RESIZE_MODES = ("resize", "crop", "none")

_RESAMPLE = {
    "lanczos": Image.Resampling.LANCZOS,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "area": Image.Resampling.BOX,
}


def crop_box(src_h: int, src_w: int, height: int, width: int):
    """(left, top, right, bottom) of the centred region of a (src_h, src_w) image with the
    aspect ratio of (height, width), in pixel-edge coordinates."""
    scale = max(height / src_h, width / src_w)
    ch, cw = height / scale, width / scale
    top, left = (src_h - ch) / 2.0, (src_w - cw) / 2.0
    return (left, top, left + cw, top + ch)


def resize_frames(frames: np.ndarray, height: int, width: int, mode: str = "resize",
                  resample: str = "lanczos") -> np.ndarray:
    """Resize uint8 frames ``(T, h, w, 3)`` to ``(T, height, width, 3)``.

    ``mode="resize"``: straight to height x width, aspect not kept (the official demo;
    with ``resample="lanczos"`` this is ``mediapy.resize_video``). ``mode="crop"``: the
    centred region with the target aspect ratio, resized to height x width (resize the
    shorter side, then centre crop, in one resampling). ``mode="none"``: unchanged.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode must be one of {RESIZE_MODES}, not {mode!r}")
    frames = np.asarray(frames)
    if mode == "none" or frames.shape[1:3] == (height, width):
        return frames
    if frames.dtype != np.uint8:
        raise TypeError("resize_frames expects uint8 frames; resize before to_float")
    method = _RESAMPLE[resample]
    box = None
    if mode == "crop":
        box = crop_box(frames.shape[1], frames.shape[2], height, width)
    out = np.empty((frames.shape[0], height, width, frames.shape[3]), np.uint8)
    for i, f in enumerate(frames):
        out[i] = np.asarray(Image.fromarray(f).resize((width, height), method, box=box))
    return out


def to_float(frames: np.ndarray) -> np.ndarray:
    """uint8 frames -> float32 in [0, 1]."""
    return np.asarray(frames, np.float32) / np.float32(255.0)
