"""Runner behind `recipes/pretrain_mae.py`: pretrain a 4DS encoder as a masked video
autoencoder (MAE).

Examples:
  python recipes/pretrain_mae.py --out runs/mae_s --size s --steps 2000 --batch 8
  python recipes/pretrain_mae.py --out runs/tiny --width 64 --depth 2 --mlp-dim 256 --heads 2 \
      --frames 8 --image-size 32 --patch 2 8 8 --mask-ratio 0.9 --steps 300 --batch 8
  python recipes/pretrain_mae.py --out runs/tiny ... --resume      # continue after a crash

Writes to --out: checkpoints/ (Orbax, every --checkpoint-every steps and at the end),
metrics.csv (step,loss), tensorboard/, encoder_preset/ (load with keras4ds.load_preset),
reconstruction.png and reconstruction.mp4 (input | masked input | reconstruction).
Data: procedural scenes by default (seeded, endless), or --data folder:DIR,
tfrecords:PATTERN, tfds:NAME; all read in a seeded order, so --resume continues with the
batches the killed run would have read (synthetic scenes, folders and TFRecords go straight
to the resumed batch; TFDS reads the batches before it).
"""
import argparse
import contextlib
import functools
import os
import tempfile

from keras4ds_apps.backend import add_backend_argument, select_backend
from keras4ds_apps.distribute import add_distribution_arguments, distribution_scope, join_processes
from keras4ds_apps.encoders import random_encoder


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="run folder")
    add_backend_argument(p)
    add_distribution_arguments(p, multi_process=True)
    p.add_argument("--size", default=None, help="4DS size: ti s m b l h g G e 22b")
    p.add_argument("--width", type=int)
    p.add_argument("--depth", type=int)
    p.add_argument("--mlp-dim", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--patch", type=int, nargs=3, default=(2, 16, 16))
    p.add_argument("--data", default="synthetic",
                   help="synthetic | folder:DIR | tfrecords:PATTERN | tfds:NAME")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1.5e-4)
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 5%%)")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--clipnorm", type=float, default=1.0)
    p.add_argument("--decoder", choices=("standard", "masked", "cross"), default="standard")
    p.add_argument("--mask-ratio", type=float, default=0.95)
    p.add_argument("--tube-masking", action="store_true")
    p.add_argument("--target-ratio", type=float, default=None, help="fraction of masked tokens decoded")
    p.add_argument("--decoder-width", type=int, default=512)
    p.add_argument("--decoder-depth", type=int, default=4)
    p.add_argument("--decoder-heads", type=int, default=None,
                   help="default 8, or the fewest more that the --mesh model axis splits")
    p.add_argument("--no-norm-pix-loss", action="store_true", help="loss on raw pixels")
    p.add_argument("--mixed-bf16", action="store_true", help="mixed_bfloat16 dtype policy")
    p.add_argument("--remat", action="store_true",
                   help="rematerialise encoder blocks in the backward pass (less memory, ~1 more forward)")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--async-checkpoints", action="store_true",
                   help="write checkpoints in the background while training goes on")
    p.add_argument("--augment", action="store_true",
                   help="random crop, flip and colour jitter of every clip (seeded)")
    p.add_argument("--tensorboard-every", type=int, default=10,
                   help="steps between TensorBoard loss scalars (tensorboard/)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def make_dataset(args, first_batch=0):
    """Endless, seeded stream of `{"video": (B, T, H, W, 3)}` batches from batch
    `first_batch` on (with `--augment`, each clip randomly cropped, flipped and
    colour-jittered, `keras4ds.data.augment`). Synthetic scenes, folders and TFRecords
    start there without decoding the batches before it; a TFDS source reads them."""
    import tensorflow as tf

    first = first_batch * args.batch
    batches = _source_batches(args, first)
    if not args.augment:
        return batches
    from keras4ds.data.augment import augment_dataset

    clips = augment_dataset(batches.unbatch(), seed=args.seed, first_element=first)
    return clips.batch(args.batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _source_batches(args, first):
    """The `--data` source as batches `{"video": (B, T, H, W, 3)}` from clip `first` on."""
    import tensorflow as tf

    size = (args.frames, args.image_size, args.image_size)
    kind, _, location = args.data.partition(":")
    common = dict(seed=args.seed, repeat=True, batch_size=args.batch, prefetch=True)
    if kind == "synthetic":
        from keras4ds.data.synthetic_tf import synthetic_dataset

        seeds = range(args.seed * 1_000_000 + first, args.seed * 1_000_000 + 1_000_000)
        ds = synthetic_dataset(seeds, *size, num_tracks=1)
        videos = ds.map(lambda e: {"video": e["video"]})
        return videos.batch(args.batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    if kind == "folder":
        from keras4ds.data.pipelines import video_folder_dataset

        return video_folder_dataset(location, *size, skip_bad_files=True, first_element=first,
                                    **common)
    if kind == "tfrecords":
        from keras4ds.data.tfrecords import tfrecord_dataset

        return tfrecord_dataset(location, *size, first_element=first, **common)
    if kind == "tfds":
        from keras4ds.data.pipelines import tfds_video_dataset

        return tfds_video_dataset(location, "train", *size, first_element=first, **common)
    raise ValueError(f"--data must be synthetic, folder:DIR, tfrecords:PATTERN or tfds:NAME, "
                     f"got {args.data!r}")


def make_encoder(args):
    try:
        return random_encoder(args.frames, args.image_size, args.size, args.width, args.depth,
                              args.mlp_dim, args.heads, args.patch, remat=args.remat)
    except ValueError as error:
        raise SystemExit(f"give --size or --width --depth --heads: {error}") from None


def tensorboard_dir(out_dir):
    """Where the TensorBoard scalars go: `out_dir/tensorboard`, or nowhere (said once)
    without the tensorboard package."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        print('tensorboard is not installed (pip install "keras4ds[tensorboard]"): '
              'metrics go to metrics.csv only')
        return None
    return os.path.join(out_dir, "tensorboard")


def main(argv=None):
    """Parse `argv` (default: sys.argv[1:]), pretrain, save the encoder preset and the
    reconstruction pictures; returns the history `{"step": [...], "loss": [...]}`."""
    args = parse_args(argv)
    select_backend(args.backend)
    import keras

    keras.utils.set_random_seed(args.seed)  # runs no JAX code: before joining the processes
    try:
        join_processes(args)
    except (ValueError, NotImplementedError) as error:
        raise SystemExit(str(error)) from None
    os.makedirs(args.out, exist_ok=True)
    if args.mixed_bf16:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        scope = distribution_scope(args.distribution, args.mesh, args.batch)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    with scope:
        return _train(args)


@contextlib.contextmanager
def _run_folder(out):
    """`out` in the first process (or the only one); a scratch folder, removed afterwards,
    in the others."""
    from keras4ds.distribution import is_primary_process

    if is_primary_process():
        yield out
        return
    with tempfile.TemporaryDirectory() as scratch:
        yield scratch


def make_mae(args, encoder):
    """The `MaskedAutoencoder` the arguments describe, around `encoder`."""
    from keras4ds.mae import MaskedAutoencoder

    return MaskedAutoencoder(encoder, decoder=args.decoder, mask_ratio=args.mask_ratio,
                             decoder_width=args.decoder_width, decoder_depth=args.decoder_depth,
                             decoder_heads=args.decoder_heads,
                             norm_pix_loss=not args.no_norm_pix_loss,
                             tube_masking=args.tube_masking, target_ratio=args.target_ratio,
                             seed=args.seed)


def _train(args):
    """Build, pretrain, save and draw (inside the distribution's scope)."""
    import keras

    from keras4ds.checkpoints import save_preset
    from keras4ds.mae import pretrain
    from keras4ds.mae.visualize import draw_reconstruction

    encoder = make_encoder(args)
    mae = make_mae(args, encoder)
    dataset = functools.partial(make_dataset, args)  # batches from a step on
    print(f"MAE {args.decoder} decoder, encoder {encoder.count_params():,} parameters, "
          f"{mae.num_visible}/{mae.num_tokens} tokens visible, backend {keras.backend.backend()}")
    history = pretrain(encoder, dataset, args.steps, mae=mae, learning_rate=args.lr,
                       warmup_steps=args.warmup, weight_decay=args.weight_decay,
                       clipnorm=args.clipnorm or None,
                       checkpoint_dir=os.path.join(os.path.abspath(args.out), "checkpoints"),
                       checkpoint_every=args.checkpoint_every, resume=args.resume,
                       async_checkpoints=args.async_checkpoints,
                       data_settings={"source": args.data, "seed": args.seed, "augment": args.augment,
                                      "frames": args.frames, "image_size": args.image_size},
                       csv_path=os.path.join(args.out, "metrics.csv"),
                       tensorboard_dir=tensorboard_dir(args.out),
                       tensorboard_every=args.tensorboard_every)
    # Every process of a multi-process job runs these (they compute on every device); only
    # the first writes them into --out, the others into a scratch folder they drop.
    with _run_folder(args.out) as out:
        save_preset(encoder, os.path.join(out, "encoder_preset"))
        batch = next(iter(dataset(0)))
        draw_reconstruction(mae, keras.ops.convert_to_numpy(batch["video"]), out)
    if history["loss"]:
        print(f"final loss {history['loss'][-1]:.4f} at step {history['step'][-1]}")
    return history
