"""What keras4ds' local TFDS builders share (needs ``tensorflow-datasets``)."""
import inspect

import tensorflow_datasets as tfds


class LocalBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A `GeneratorBasedBuilder` whose source file TFDS finds by a plain path: TFDS's own
    lookup goes through `importlib_resources`, which tensorflow-datasets does not install."""

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        from etils import epath

        return epath.Path(inspect.getfile(cls))
