"""The five probe heads (depth, pose, points, boxes, classify) through the model harness, on
a frozen tiny encoder; `fit` runs two steps, as the zero-initialised heads pass gradients to
the layers under them from the second step on."""
import keras
from layer_harness import SUBLAYERS_LOSE_INT8, ModelCase, ModelTest
from tiny_models import tiny_encoder, tiny_probe

from keras4ds.data.synthetic import generate_clip
from keras4ds.readouts import probe_batch


def _clips():
    clips = [generate_clip(seed, num_frames=4, height=16, width=16, num_tracks=8, num_objects=2)
             for seed in range(2)]
    for seed, clip in enumerate(clips):
        clip["label"] = seed
    return clips


CLIPS = _clips()


def case(task, **kwargs):
    x, y = probe_batch(task, CLIPS, num_queries=3)
    return ModelCase(lambda: tiny_probe(task, tiny_encoder(width=16, seed=0), **kwargs), x, y,
                     compile_kwargs={"optimizer": keras.optimizers.Adam(1e-2)}, train_steps=2)


class TestDepthProbe(ModelTest):
    case = case("depth")
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8}


class TestPoseProbe(ModelTest):
    case = case("pose")
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8}


class TestPointProbe(ModelTest):
    case = case("points", head="attention")  # the template head is fit in closed form
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8,
                      "precision": "call adds the offsets to the float32 query points, so the "
                                   "tracks are float32 under every policy"}


class TestBoxProbe(ModelTest):
    case = case("boxes")
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8,
                      "precision": "call adds the offsets to the float32 query boxes, so the "
                                   "boxes are float32 under every policy"}


class TestClassificationProbe(ModelTest):
    case = case("classify", num_classes=2)
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8}
