"""Without TensorFlow the tf.data modules say how to install it; the rest of keras4ds loads."""
import subprocess
import sys

import pytest

pytestmark = pytest.mark.backend_independent

_NO_TENSORFLOW = "import sys; sys.modules['tensorflow'] = None; "


def _run(code):
    return subprocess.run([sys.executable, "-c", _NO_TENSORFLOW + code], capture_output=True,
                          text=True, timeout=300, env={**__import__("os").environ,
                                                       "KERAS_BACKEND": "jax"})


@pytest.mark.parametrize("module", ["pipelines", "tfrecords", "synthetic_tf", "augment"])
def test_a_tf_data_module_without_tensorflow_names_the_install(module):
    result = _run(f"import keras4ds.data.{module}")
    assert result.returncode != 0
    assert "need TensorFlow, which is not installed" in result.stderr
    assert 'pip install "keras4ds[tf-cpu]"' in result.stderr


def test_models_readouts_mae_and_the_study_load_without_tensorflow():
    result = _run("import keras4ds, keras4ds.readouts, keras4ds.mae, keras4ds_apps.study, "
                  "keras4ds.inference, keras4ds.metrics; print('loaded')")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "loaded" in result.stdout
