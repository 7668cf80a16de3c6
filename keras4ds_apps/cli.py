"""`keras4ds` command line: convert official checkpoints, export a model for serving, depth
for a video, features for a
folder of videos, a readout probe (`keras4ds probe TASK`, the recipes' runner), the study.

A user error (a bad input, an output path that cannot be written) ends the command with
one line, `keras4ds COMMAND: error: MESSAGE`, on stderr and exit status 2; `--debug`
anywhere on the command line (or KERAS4DS_DEBUG=1) shows the traceback instead.
"""
import argparse
import os
import sys

from keras4ds_apps.encoders import file_encoder, load_model
from keras4ds_apps.paths import check_input_path, check_output_path

# What the package raises for bad input, and the system for paths it cannot use.
USER_ERRORS = (ValueError, TypeError, KeyError, OSError)


class CommandError(SystemExit):
    """Exit status 2 after a user error's one line is on stderr; `str()` is the message."""

    def __init__(self, message):
        super().__init__(2)
        self.message = message

    def __str__(self):
        return self.message


def _check_preset_output(path):
    """The output of `convert` is replaced whole: refuse a folder that is not a preset."""
    check_output_path(path, folder=True)
    from keras4ds.models.preset_folder import check_replaceable

    check_replaceable(path)


def convert(args):
    """Official `.npz` -> Keras preset folder (`config.json` + `model.weights.h5`)."""
    check_input_path(args.input)
    _check_preset_output(args.output)
    import keras4ds

    model = keras4ds.load_official(args.input)
    out = keras4ds.save_preset(model, args.output)
    print(f"wrote {type(model).__name__} ({model.count_params():,} parameters) to {out}")


def export(args):
    """Official `.npz` or preset folder -> TensorFlow SavedModel folder or ONNX file."""
    check_input_path(args.model)
    check_output_path(args.output, folder=args.format == "tf_saved_model")
    from keras4ds.checkpoints.export import export_model

    model = load_model(args.model)
    out = export_model(model, args.output, format=args.format)
    print(f"exported {type(model).__name__} as {args.format} to {out}")


def _is_source(path):
    """A folder of videos or a `tfds:` dataset rather than one video file."""
    from keras4ds.inference.video_folder import SOURCE_PREFIXES

    return str(path).startswith(SOURCE_PREFIXES) or os.path.isdir(path)


def _check_source(path, data_dir):
    from keras4ds.inference.video_folder import SOURCE_PREFIXES, TFRECORD_PREFIX, list_videos

    if str(path).startswith(TFRECORD_PREFIX):
        from keras4ds.data.tfrecords import tfrecord_files

        tfrecord_files(str(path)[len(TFRECORD_PREFIX):])  # no shard: an error before the weights
        return
    if str(path).startswith(SOURCE_PREFIXES):
        if data_dir is not None:
            check_input_path(data_dir)
        return
    check_input_path(path)
    list_videos(path)  # an empty or wrong folder fails before the weights load


def depth_folder(args):
    """Depth for every video of a folder or TFDS source: OUT/NAME.npz (or .h5, .tfrecord) and
    OUT/NAME.png each, plus OUT/index.json."""
    _check_source(args.video, args.data_dir)
    check_input_path(args.weights)
    check_output_path(args.out, folder=True)
    from keras4ds.inference.video_folder import extract_folder_depth
    from keras4ds.models import DepthModel
    from keras4ds.readouts.features import encoder_fingerprint

    model = load_model(args.weights)
    if not isinstance(model, DepthModel):
        raise TypeError(f"{args.weights} holds a {type(model).__name__}, not a depth model")
    index = extract_folder_depth(model, args.video, args.out,
                                 weights_name=encoder_fingerprint(model.encoder)[:16],
                                 stride=args.window_stride, frame_stride=args.stride,
                                 resize=args.resize, file_format=args.format,
                                 data_dir=args.data_dir)
    print(f"depth of {len(index['videos'])} videos -> {os.path.join(args.out, 'index.json')}")


def depth(args):
    """Depth for the first T frames of a video: MP4 (RGB | depth) + PNG + optional .npy; for a
    folder or TFDS source, `depth_folder`."""
    if _is_source(args.video):
        return depth_folder(args)
    check_input_path(args.video)
    check_input_path(args.weights)
    png = os.path.splitext(args.out)[0] + ".png"
    for path in (args.out, png, args.npy):
        if path:
            check_output_path(path)
    import numpy as np
    from keras import ops

    from keras4ds.data.video_io import load_clip, write_video
    from keras4ds.data.visualize import colorize_depth
    from keras4ds.models import DepthModel
    from keras4ds.utils import write_staged

    model = load_model(args.weights)
    if not isinstance(model, DepthModel):
        raise TypeError(f"{args.weights} holds a {type(model).__name__}, not a depth model")
    frames, height, width, _ = model.encoder.input_video_shape
    clip = load_clip(args.video, num_frames=frames, height=height, width=width,
                     stride=args.stride, start=args.start)
    predicted = ops.convert_to_numpy(model.predict_on_batch(clip[None]))[0]
    rgb = (clip * 255).round().astype(np.uint8)
    panel = np.concatenate([rgb, colorize_depth(predicted)], axis=2)
    from PIL import Image

    write_staged(args.out, lambda staged: write_video(staged, panel, fps=args.fps))
    write_staged(png, Image.fromarray(panel[len(panel) // 2]).save)
    if args.npy:
        write_staged(args.npy, lambda staged: np.save(staged, predicted))
    print(f"depth {predicted.shape} in [{predicted.min():.3g}, {predicted.max():.3g}] "
          f"-> {args.out}, {png}" + (f", {args.npy}" if args.npy else ""))


def features(args):
    """Encoder features of every video in a folder: `OUT/NAME.npz` (or .h5, .tfrecord) each
    plus `OUT/index.json`."""
    _check_source(args.videos, args.data_dir)
    check_input_path(args.weights)
    check_output_path(args.out, folder=True)
    from keras4ds.inference.video_folder import extract_folder_features
    from keras4ds.readouts.features import encoder_fingerprint

    encoder = file_encoder(args.weights)
    index = extract_folder_features(
        encoder, args.videos, args.out, weights_name=encoder_fingerprint(encoder)[:16],
        hidden_state=args.hidden_state, stride=args.stride, frame_stride=args.frame_stride,
        resize=args.resize, file_format=args.format, data_dir=args.data_dir)
    print(f"features of {len(index['videos'])} videos -> {os.path.join(args.out, 'index.json')}")


def study(argv):
    from keras4ds_apps.study import main as study_main

    return study_main(argv)


def probe(argv):
    """`keras4ds probe TASK ...`: `recipes/probe_TASK.py` (see `keras4ds probe TASK --help`)."""
    from keras4ds.readouts.batches import TASKS

    if not argv or argv[0] not in TASKS:
        raise ValueError(f"keras4ds probe needs a task first, one of {', '.join(TASKS)}; "
                         f"got {argv[:1] or 'nothing'}")
    from keras4ds_apps.probe import main as probe_main

    probe_main(argv[0], argv[1:])
    return 0


def _add_source_arguments(parser, what):
    parser.add_argument("--format", default="npz", choices=("npz", "hdf5", "tfrecord"),
                        help=f"{what} file per video of a folder: NAME.npz (default), NAME.h5 "
                             "or NAME.tfrecord")
    parser.add_argument("--data-dir", help="TFDS data_dir of a tfds: source")


def _positive(text):
    """argparse type: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _run(argv):
    """Parse `argv` and run its command."""
    if argv[:1] == ["study"]:
        return study(argv[1:])
    if argv[:1] == ["probe"]:
        return probe(argv[1:])
    parser = argparse.ArgumentParser(prog="keras4ds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("convert", help="official .npz -> Keras preset folder")
    p.add_argument("input", help="official 4DS .npz (backbone or depth file)")
    p.add_argument("output", help="preset folder to write")
    p.set_defaults(run=convert)
    p = commands.add_parser("export", help="official .npz or preset folder -> SavedModel / ONNX")
    p.add_argument("model", help="official 4DS .npz or preset folder")
    p.add_argument("output", help="SavedModel folder (or .onnx file) to write; must not exist")
    p.add_argument("--format", default="tf_saved_model", choices=("tf_saved_model", "onnx"),
                   help="export format (default: tf_saved_model)")
    p.set_defaults(run=export)
    p = commands.add_parser("depth", help="depth maps for a video, a folder or a TFDS source")
    p.add_argument("video", help="mp4/avi/mkv/webm/gif file; or a folder of them, "
                                 "tfrecord:PATTERN or tfds:NAME[/CONFIG][:SPLIT], for depth of "
                                 "every video")
    p.add_argument("--weights", required=True, help="depth .npz or preset folder")
    p.add_argument("--out", required=True, help="output .mp4 (RGB | depth side by side); for a "
                                                "folder or TFDS source, an output folder")
    p.add_argument("--npy", help="also save the raw depth (T, H, W, 1) here (one video)")
    p.add_argument("--stride", type=int, default=1, help="frame stride")
    p.add_argument("--start", default="start", help="first frame index, 'start' or 'center'")
    p.add_argument("--fps", type=_positive, default=8.0, help="frame rate of the output video")
    _add_source_arguments(p, "depth")
    p.add_argument("--window-stride", type=int,
                   help="folder: frames between windows (default: half the window)")
    p.add_argument("--resize", default="resize", choices=("resize", "crop"),
                   help="folder: frames to the model size straight (default) or centre-cropped")
    p.set_defaults(run=depth)
    p = commands.add_parser("features", help="encoder features for every video in a folder")
    p.add_argument("videos", help="folder of video files, tfrecord:PATTERN (keras4ds' JPEG-frame "
                                  "TFRecords) or tfds:NAME[/CONFIG][:SPLIT]")
    _add_source_arguments(p, "features")
    p.add_argument("--weights", required=True, help="official .npz or preset folder (encoder or depth)")
    p.add_argument("--out", required=True,
                   help="output folder: a features file per video + index.json")
    p.add_argument("--hidden-state", type=int, help="hidden state index (default: the last, h_L)")
    p.add_argument("--stride", type=int, help="frames between windows (default: half the window)")
    p.add_argument("--frame-stride", type=int, default=1, help="read every N-th frame")
    p.add_argument("--resize", default="resize", choices=("resize", "crop", "native"),
                   help="frames to the encoder size straight (default) or centre-cropped, or "
                        "kept at their size with the position embedding resized")
    p.set_defaults(run=features)
    commands.add_parser("probe", help="train and score a readout: keras4ds probe TASK --help")
    commands.add_parser("study", help="the miniature 4DS study (see `keras4ds study --help`)")
    args = parser.parse_args(argv)
    if isinstance(getattr(args, "start", None), str) and args.start.isdigit():
        args.start = int(args.start)
    args.run(args)
    return 0


def _fail(command, error):
    """Print a user error as one line on stderr and exit with status 2."""
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    line = " ".join(str(message).split()) or type(error).__name__
    print(f"keras4ds {command}: error: {line}", file=sys.stderr)
    raise CommandError(line) from error


def main(argv=None):
    """Run the command of `argv` (default: sys.argv[1:]); see the module docstring."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get("KERAS4DS_DEBUG") == "1"
    argv = [arg for arg in argv if arg != "--debug"]
    command = argv[0] if argv else ""
    try:
        return _run(argv)
    except SystemExit as exit:
        if not isinstance(exit.code, str):  # argparse, --help, a CommandError
            raise
        _fail(command, exit)
    except USER_ERRORS as error:
        if debug:
            raise
        _fail(command, error)


if __name__ == "__main__":
    sys.exit(main())
