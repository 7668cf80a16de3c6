"""Readers, tf.data pipelines and procedural 4D scenes."""
