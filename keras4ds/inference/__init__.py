"""Inference helpers: compiled forward passes and windowed inference on long videos."""
from keras4ds.inference.compiled import compile_forward
from keras4ds.inference.long_video import (
    EncoderForwards,
    depth_long_video,
    encoder_features_long_video,
    iter_depth,
    iter_encoder_features,
)
from keras4ds.inference.output_files import read_output
from keras4ds.inference.video_folder import (
    extract_folder_depth,
    extract_folder_features,
    list_videos,
    pad_frames,
    read_video,
    source_videos,
)
from keras4ds.inference.windows import blend_windows, window_starts, window_weights
