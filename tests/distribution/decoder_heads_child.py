"""Child process (8 fake CPU devices, JAX): the MAE decoder's heads on meshes whose model
axis does or does not split 8 heads. Prints one RESULT JSON line."""
import os

os.environ["XLA_FLAGS"] = " ".join(filter(None, [os.environ.get("XLA_FLAGS"),
                                                   "--xla_force_host_platform_device_count=8"]))
os.environ["KERAS_BACKEND"] = "jax"

import json  # noqa: E402


def main():
    import keras
    import numpy as np

    from keras4ds.distribution import model_parallel
    from keras4ds.mae import MaskedAutoencoder
    from keras4ds.models import FourDSEncoder

    def decoder_heads(mesh, devices, encoder_heads, **options):
        keras.backend.clear_session()
        distribution = model_parallel(mesh, devices=keras.distribution.list_devices()[:devices])
        with distribution.scope():
            encoder = FourDSEncoder(48, 1, 96, encoder_heads, num_frames=4, image_size=(16, 16),
                                    patch_size=(2, 4, 4))
            mae = MaskedAutoencoder(encoder, mask_ratio=0.75, decoder_width=48, decoder_depth=1,
                                    **options)
            video = np.random.default_rng(0).random((mesh[0], 4, 16, 16, 3), np.float32)
            loss = float(mae.compute_loss(y_pred=mae(video)))
            query = mae.decoder.blocks[0].attention.query.kernel
            return mae.decoder.num_heads, str(query.value.sharding.spec), loss

    results = {"mesh_1x3": decoder_heads((1, 3), 3, 3), "mesh_2x4": decoder_heads((2, 4), 8, 4)}
    try:
        decoder_heads((1, 3), 3, 3, decoder_heads=8)
        results["explicit_8_on_3"] = "built"
    except ValueError as error:
        results["explicit_8_on_3"] = str(error)
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
