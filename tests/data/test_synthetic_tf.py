"""The procedural scenes as a tf.data source and as a local TFDS builder."""
import numpy as np
import pytest

from keras4ds.data.synthetic import generate_clip

pytestmark = pytest.mark.backend_independent

OPTS = dict(num_frames=3, height=16, width=20, num_tracks=12, num_objects=2)


def test_synthetic_dataset_matches_generate_clip():
    from keras4ds.data.synthetic_tf import synthetic_dataset

    ds = synthetic_dataset([4, 9, 2], num_parallel_calls=3, **OPTS)
    assert ds.element_spec["video"].shape == (3, 16, 20, 3)
    assert ds.element_spec["tracks"].shape == (12, 3, 2)
    got = list(ds.as_numpy_iterator())
    assert len(got) == 3
    for seed, clip in zip([4, 9, 2], got):
        ref = generate_clip(seed, **OPTS)
        assert set(clip) == set(ref)
        for k in ref:
            np.testing.assert_array_equal(clip[k], ref[k])
    # Batches stack (fixed K and N) and the stream is the same every time.
    batch = next(iter(synthetic_dataset(4, repeat=True, **OPTS).batch(4)))
    assert batch["boxes"].shape == (4, 2, 3, 4)
    again = next(iter(synthetic_dataset(4, **OPTS).batch(4)))
    np.testing.assert_array_equal(batch["video"].numpy(), again["video"].numpy())


def test_synthetic_dataset_rejects_bad_options():
    from keras4ds.data.synthetic_tf import synthetic_dataset

    with pytest.raises(TypeError):
        synthetic_dataset(2, nonsense=True)


def test_local_tfds_builder(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    from keras4ds.data import tfds_synthetic as ts

    config = ts.Synthetic4DConfig(name="unit", num_train=3, num_validation=2,
                                  options={"num_tracks": 12, "num_objects": 2},
                                  num_frames=3, height=16, width=20)
    builder = ts.Keras4dsSynthetic4d(data_dir=str(tmp_path), config=config)
    builder.download_and_prepare()
    assert builder.info.splits["train"].num_examples == 3
    assert builder.info.splits["validation"].num_examples == 2
    examples = list(builder.as_dataset(split="train").map(ts.decode_example))
    by_seed = {}
    for ex, raw in zip(examples, builder.as_dataset(split="train")):
        by_seed[int(raw["seed"])] = {k: v.numpy() for k, v in ex.items()}
    assert sorted(by_seed) == [0, 1, 2]
    ref = generate_clip(1, **OPTS)
    got = by_seed[1]
    assert set(got) == set(ref)
    np.testing.assert_allclose(got["video"], ref["video"], atol=0.5 / 255 + 1e-6)
    for k in ref:
        if k != "video":
            np.testing.assert_array_equal(got[k], ref[k])
    val_seeds = sorted(int(x["seed"]) for x in builder.as_dataset(split="validation"))
    assert val_seeds == [ts.VALIDATION_SEED_OFFSET, ts.VALIDATION_SEED_OFFSET + 1]
