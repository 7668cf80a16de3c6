"""TensorFlow for the tf.data pipelines, or an error saying how to install it.

keras4ds does not install TensorFlow itself (a GPU `tensorflow` and the small
`tensorflow-cpu` wheel would overwrite each other); the modules that build tf.data
pipelines import it through here.
"""
try:
    import tensorflow
except ImportError:
    raise ImportError(
        "keras4ds' tf.data pipelines (keras4ds.data.pipelines, tfrecords, synthetic_tf, "
        "tfds_synthetic, augment) need TensorFlow, which is not installed: "
        'pip install "keras4ds[tf-cpu]" for the CPU wheel, or "keras4ds[tf]" / your own '
        "tensorflow build for a GPU") from None

__all__ = ["tensorflow"]
