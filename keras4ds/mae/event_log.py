"""Scalars as TensorBoard event files, written by the `tensorboard` package itself.

Keras' own `TensorBoard` callback writes through `tf.summary`, so on jax or torch without
TensorFlow it writes nothing; this writer needs only `pip install "keras4ds[tensorboard]"`.
"""
import time


class ScalarEventWriter:
    """`scalar(tag, value, step)` into event files under `log_dir` (read them with
    TensorBoard, or `tensorboard.backend.event_processing.event_accumulator`)."""

    def __init__(self, log_dir):
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
        except ImportError:
            raise ImportError('TensorBoard logs need the tensorboard package: '
                              'pip install "keras4ds[tensorboard]"') from None
        self.log_dir = log_dir
        self._event, self._summary = event_pb2.Event, summary_pb2.Summary
        self._writer = EventFileWriter(log_dir)

    def scalar(self, tag, value, step):
        """Write one float `value` named `tag` at global step `step`."""
        summary = self._summary(value=[self._summary.Value(tag=tag, simple_value=float(value))])
        self._writer.add_event(self._event(wall_time=time.time(), step=int(step), summary=summary))

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()
