"""Child process for the kill-and-resume test: train a tiny MAE, optionally SIGKILL itself.

usage: python resume_child.py CHECKPOINT_DIR OUT_NPZ [--resume] [--kill-after-step K]
       [--kill-during-save K]
"""
import argparse
import os
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

STEPS = 10


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint_dir")
    parser.add_argument("out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--kill-after-step", type=int)
    parser.add_argument("--kill-during-save", type=int)
    args = parser.parse_args()

    import keras

    from keras4ds.mae.checkpoint import TrainingCheckpointer

    class Killer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if args.kill_after_step is not None and batch + 1 == args.kill_after_step:
                os.kill(os.getpid(), signal.SIGKILL)

    if args.kill_during_save is not None:
        # SIGKILL after Orbax has written step K's files to its temporary folder but before
        # the folder is renamed into place: the write is then incomplete on disk.
        original = TrainingCheckpointer.save

        def save_then_die(self, step, model, optimizer):
            if step != args.kill_during_save:
                return original(self, step, model, optimizer)
            import orbax.checkpoint as ocp
            finalize = ocp.path.atomicity.AtomicRenameTemporaryPath.finalize

            def die(*_, **__):
                os.kill(os.getpid(), signal.SIGKILL)

            ocp.path.atomicity.AtomicRenameTemporaryPath.finalize = die
            try:
                return original(self, step, model, optimizer)
            finally:
                ocp.path.atomicity.AtomicRenameTemporaryPath.finalize = finalize

        TrainingCheckpointer.save = save_then_die

    weights = train(args.checkpoint_dir, args.resume, [Killer()])
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, *weights)
    os.replace(tmp, args.out)


def train(checkpoint_dir=None, resume=False, callbacks=()):
    """Train the tiny MAE for STEPS steps; returns its final variables as numpy arrays."""
    import keras
    import tensorflow as tf
    from helpers import tiny_encoder, tiny_mae

    from keras4ds.mae import pretrain

    keras.utils.set_random_seed(0)
    encoder = tiny_encoder(width=16, depth=1)
    mae = tiny_mae(encoder=encoder, seed=3)
    videos = np.random.default_rng(0).random((2 * STEPS, 4, 16, 16, 3)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(videos).batch(2)
    pretrain(encoder, dataset, STEPS, mae=mae, learning_rate=1e-3, warmup_steps=2,
             checkpoint_dir=checkpoint_dir, checkpoint_every=3, resume=resume,
             callbacks=list(callbacks), verbose=0)
    return [keras.ops.convert_to_numpy(v) for v in mae.variables]


if __name__ == "__main__":
    main()
