"""The runners' encoders: a random-init one of a named or given shape, or the weights of a
file (an official `.npz` or a preset folder)."""
import os


def random_encoder(num_frames, image_size, size=None, width=None, depth=None, mlp_dim=None,
                   num_heads=None, patch_size=None, **options):
    """A freshly initialised `FourDSEncoder` for `(num_frames, image_size, image_size, 3)`
    clips: the shape of `size` ('ti', 's', ... see `size_config`) with any of width, depth,
    mlp_dim (default 4 x width), num_heads given over it. `options` (remat, name) pass on."""
    from keras4ds.models import FourDSEncoder, size_config

    config = size_config(size) if size else {}
    config.update({k: v for k, v in dict(width=width, depth=depth, mlp_dim=mlp_dim,
                                          num_heads=num_heads).items() if v is not None})
    if "width" in config and "mlp_dim" not in config:
        config["mlp_dim"] = 4 * config["width"]
    missing = [k for k in ("width", "depth", "num_heads") if k not in config]
    if missing:
        raise ValueError(f"an encoder needs a size or all of width, depth, num_heads "
                         f"(missing {', '.join(missing)})")
    if patch_size:
        options["patch_size"] = tuple(patch_size)
    return FourDSEncoder(**config, num_frames=num_frames, image_size=(image_size, image_size),
                         **options)


def load_model(weights):
    """An official `.npz` file or a preset folder -> its Keras model (encoder or depth)."""
    from keras4ds.checkpoints import load_official, load_preset

    if os.path.isdir(weights):
        return load_preset(weights)
    return load_official(weights)


def file_encoder(weights, num_frames=None, image_size=None):
    """The 4DS encoder of `weights` (a depth model's own encoder for a depth file), resized
    to `(num_frames, image_size, image_size)` clips when those are given and differ."""
    from keras4ds.models import FourDSEncoder

    model = load_model(weights)
    encoder = getattr(model, "encoder", model)
    if not isinstance(encoder, FourDSEncoder):
        raise TypeError(f"{weights} holds a {type(model).__name__}, not a 4DS encoder")
    wanted = (num_frames or encoder.num_frames,
              *((image_size, image_size) if image_size else encoder.image_size))
    if (encoder.num_frames, *encoder.image_size) != wanted:
        encoder = encoder.resized(wanted[0], wanted[1:])
    return encoder
