"""Encoder features and depth for videos longer than 16 frames, window by window.

The video is read one window at a time (numpy arrays, `np.memmap` or h5py datasets all
work), each window goes through one compiled forward pass, and overlapping windows are
blended (see `windows.py`). The `iter_*` generators release finished frames as they go,
so memory stays flat however long the video is; the other two functions concatenate.
"""
import numpy as np
from keras import ops
from tqdm import tqdm

from keras4ds.inference.compiled import compile_forward
from keras4ds.inference.windows import blend_windows, window_starts


def _check_long_video(video):
    shape = tuple(getattr(video, "shape", ()))
    if len(shape) != 5 or shape[-1] != 3:
        raise ValueError(f"expected a video (B, T, H, W, 3) of floats in [0, 1], got shape {shape}")
    if "float" not in str(getattr(video, "dtype", "")):
        raise TypeError(f"expected a float video in [0, 1], got dtype {video.dtype}; "
                        f"convert uint8 frames with `frames / 255.0`")
    return shape


def _window_encoder(encoder, video_shape, window, native_resolution):
    """The encoder to run on each window: `encoder` itself or an opt-in resized copy."""
    _, _, height, width, _ = video_shape
    window = window or encoder.num_frames
    size = (height, width)
    if size != tuple(encoder.image_size) and not native_resolution:
        raise ValueError(f"video frames are {height}x{width} but the encoder expects "
                         f"{encoder.image_size[0]}x{encoder.image_size[1]}: resize the frames, "
                         f"or pass native_resolution=True to resize the position embedding")
    if window != encoder.num_frames or size != tuple(encoder.image_size):
        encoder = encoder.resized(num_frames=window, image_size=size)
    return encoder, window


def _windows(video, starts, window, forward, progress, desc):
    for start in tqdm(starts, desc=desc, unit="window", disable=not progress):
        clip = np.ascontiguousarray(video[:, start:start + window], dtype=np.float32)
        yield ops.convert_to_numpy(forward(ops.convert_to_tensor(clip)))


class EncoderForwards:
    """The compiled feature forwards of one encoder and hidden state, one per window
    length and frame size, made on first use and reused: a folder of same-size videos
    compiles once, not once per video."""

    def __init__(self, encoder, hidden_state=None, native_resolution=False):
        self.encoder, self.native_resolution = encoder, native_resolution
        self.hidden_state = encoder.depth if hidden_state is None else hidden_state
        self._compiled = {}

    def get(self, video_shape, window=None):
        """`(model, forward)` for a video `(B, T, H, W, 3)`: the encoder (or its resized
        copy) and its compiled `clip -> features (B, t, h, w, D)`."""
        key = (window or self.encoder.num_frames, *video_shape[2:4])
        if key not in self._compiled:
            model, _ = _window_encoder(self.encoder, video_shape, window, self.native_resolution)
            index, grid = self.hidden_state, model.grid

            def features(clip):
                tokens = model.hidden_state(clip, index)
                return ops.reshape(tokens, (ops.shape(tokens)[0], *grid, model.width))
            self._compiled[key] = model, compile_forward(features, model.variables)
        return self._compiled[key]


def iter_encoder_features(encoder, video, stride=None, window=None, hidden_state=None,
                          native_resolution=False, progress=True, forwards=None):
    """Yield `(first_tubelet, features (B, n, h, w, D))` blocks covering the whole video.

    video: `(B, T, H, W, 3)` floats in [0, 1], T >= window (default `encoder.num_frames`).
    Features are hidden state `hidden_state` (default the last, h_L) on the token grid;
    time is in tubelets (T / 2 steps). `stride` (frames, default half the window) must be
    a multiple of the tubelet length. Another window length or frame size uses
    `encoder.resized(...)` (opt-in for the frame size through `native_resolution=True`).
    `forwards`: an `EncoderForwards` of this encoder to reuse across calls (then
    `hidden_state` and `native_resolution` are its own).
    """
    shape = _check_long_video(video)
    if forwards is None:
        forwards = EncoderForwards(encoder, hidden_state, native_resolution)
    elif forwards.encoder is not encoder:
        raise ValueError("forwards belongs to another encoder")
    model, forward = forwards.get(shape, window)
    window, step = model.num_frames, model.patch_size[0]
    stride = stride or window // 2
    if stride % step or window % step:
        raise ValueError(f"stride ({stride}) and window ({window}) must be multiples of the "
                         f"tubelet length {step}")
    if shape[1] % step:
        raise ValueError(f"video length {shape[1]} must be a multiple of the tubelet length {step}")
    starts = window_starts(shape[1], window, stride)
    outputs = _windows(video, starts, window, forward, progress, "encoder windows")
    yield from blend_windows(outputs, [s // step for s in starts], model.grid[0])


def iter_depth(depth_model, video, stride=None, progress=True, forward=None):
    """Yield `(first_frame, depth (B, n, H, W, 1))` blocks covering the whole video.

    video: `(B, T, H, W, 3)` floats in [0, 1] at the model's frame size, T >= the model's
    `num_frames` (16 for the released model); windows of that length every `stride` frames
    (default: half the window). `forward`: the model's compiled forward
    (`compile_forward(depth_model.call, depth_model.variables)`) to reuse across calls.
    """
    shape = _check_long_video(video)
    encoder = depth_model.encoder
    if tuple(shape[2:4]) != tuple(encoder.image_size):
        raise ValueError(f"video frames are {shape[2]}x{shape[3]} but the depth model expects "
                         f"{encoder.image_size[0]}x{encoder.image_size[1]} (its readout has one "
                         f"learned query per output patch): resize the frames first")
    window = encoder.num_frames
    stride = stride or window // 2
    forward = forward or compile_forward(depth_model.call, depth_model.variables)
    starts = window_starts(shape[1], window, stride)
    outputs = _windows(video, starts, window, forward, progress, "depth windows")
    yield from blend_windows(outputs, starts, window)


def encoder_features_long_video(encoder, video, **kwargs):
    """All of `iter_encoder_features` as one array `(B, T/2, h, w, D)`."""
    return np.concatenate([block for _, block in iter_encoder_features(encoder, video, **kwargs)],
                          axis=1)


def depth_long_video(depth_model, video, **kwargs):
    """All of `iter_depth` as one array `(B, T, H, W, 1)`."""
    return np.concatenate([block for _, block in iter_depth(depth_model, video, **kwargs)], axis=1)
