"""What a frozen encoder keeps for point tracking: template matching on decoded pixels.

  KERAS_BACKEND=jax python tools/points_ceiling.py --preset out/study/encoders/mae_w64 \
      --random 64:2:4 --readout-index 0 2

For each encoder and hidden state, a ridge regression (fit on the training scenes' tokens)
decodes every token's pixels from its features; `template_tracks` then tracks the
held-out scenes' query points on the decoded video. Its TAP-Vid average Jaccard is a
learning-free yardstick of how much pixel detail the features keep for tracking, next to
the same matcher on the raw pixels and static points. Prints one markdown row per case
and writes them to --out as JSON.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", action="append", default=[],
                        help="keras4ds preset folder of an encoder (repeatable)")
    parser.add_argument("--random", action="append", default=[], metavar="W:D:H",
                        help="random-init encoder width:depth:heads (repeatable)")
    parser.add_argument("--readout-index", type=int, nargs="+", default=None,
                        help="hidden states to decode (default: h_0 and h_L)")
    parser.add_argument("--patch-size", type=int, nargs=3, default=(2, 8, 8), metavar=("T", "H", "W"))
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--train-clips", type=int, default=256)
    parser.add_argument("--eval-clips", type=int, default=64)
    parser.add_argument("--queries", type=int, default=32)
    parser.add_argument("--radius", type=int, default=3, help="template half-size in pixels")
    parser.add_argument("--ridge", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="points_ceiling.json")
    return parser.parse_args()


def decoded_videos(encoder, index, train_videos, eval_videos, ridge):
    """Eval videos rebuilt from state `index` by the template point head's pixel decoder
    (fit on the train videos), and the decoder's R^2 on the eval tokens."""
    import numpy as np

    from keras4ds.models.patches import patchify
    from keras4ds.readouts import TemplatePointProbe
    from keras4ds.readouts.features import compute_features
    from keras4ds.readouts.template_points import r_squared

    probe = TemplatePointProbe(encoder, readout_index=index, ridge=ridge)
    probe.fit_pixel_decoder(compute_features(encoder, train_videos, index), train_videos)
    decoded = probe.decoded_video({"features": compute_features(encoder, eval_videos, index)})
    decoded = np.asarray(decoded)

    def token_pixels(videos):
        pixels = np.asarray(patchify(videos, encoder.patch_size))
        return pixels.reshape(-1, pixels.shape[-1])

    return decoded, r_squared(token_pixels(decoded), token_pixels(eval_videos))


def template_jaccard(videos, inputs, targets, radius):
    """Average Jaccard of `template_tracks` on `videos` (all points called visible)."""
    import numpy as np
    from template_tracks import template_tracks

    from keras4ds.readouts.evaluate import task_metrics

    tracks = np.stack([template_tracks(v, q, radius)
                       for v, q in zip(videos, inputs["query_points"])])
    predictions = {"tracks": tracks, "visible": np.ones(tracks.shape[:3], bool)}
    return task_metrics("points", inputs, targets, predictions)["average_jaccard"]


def encoders(args):
    """(name, encoder) for every --preset and --random of `args`."""
    import keras

    from keras4ds.checkpoints import load_preset
    from keras4ds.models import FourDSEncoder

    for path in args.preset:
        yield os.path.basename(os.path.normpath(path)), load_preset(path)
    for spec in args.random:
        width, depth, heads = (int(n) for n in spec.split(":"))
        keras.utils.set_random_seed(args.seed)
        yield f"random {spec}", FourDSEncoder(
            width, depth, 4 * width, heads, num_frames=args.frames,
            image_size=(args.image_size, args.image_size), patch_size=tuple(args.patch_size))


def main(args):
    import numpy as np
    from tqdm import tqdm

    from keras4ds.data.synthetic import generate_clip
    from keras4ds.readouts.batches import probe_batch
    from keras4ds.readouts.evaluate import baseline_predictions, task_metrics

    size = args.image_size
    train = [generate_clip(s, args.frames, size, size)
             for s in tqdm(range(args.train_clips), desc="train scenes")]
    held_out = [generate_clip(s, args.frames, size, size)
                for s in tqdm(range(100000, 100000 + args.eval_clips), desc="held-out scenes")]
    train_videos = np.stack([c["video"] for c in train]).astype(np.float32)
    inputs, targets = probe_batch("points", held_out, args.queries, args.seed + 1)
    static = task_metrics("points", inputs, targets,
                          baseline_predictions("points", inputs, targets, targets))["average_jaccard"]
    rows = [{"features": "raw pixels", "r2": 1.0,
             "template_aj": template_jaccard(inputs["video"], inputs, targets, args.radius)}]
    for name, encoder in encoders(args):
        for index in args.readout_index or (0, encoder.depth):
            videos, r2 = decoded_videos(encoder, index, train_videos, inputs["video"], args.ridge)
            rows.append({"features": f"{name} h_{index}", "r2": r2,
                         "template_aj": template_jaccard(videos, inputs, targets, args.radius)})
    print(f"\nstatic points AJ {static:.3f}; {args.eval_clips} held-out scenes, "
          f"{args.queries} queries each, template radius {args.radius}, load "
          f"{os.getloadavg()[0]:.1f}\n\n| features | decoder R^2 | template-matching AJ |\n|---|---:|---:|")
    for row in rows:
        print(f"| {row['features']} | {row['r2']:.3f} | {row['template_aj']:.3f} |")
    result = {"static_aj": static, "rows": rows, "args": vars(args), "time": time.ctime()}
    from keras4ds.utils import write_json

    write_json(args.out, result, indent=1)


if __name__ == "__main__":
    main(parse_args())
