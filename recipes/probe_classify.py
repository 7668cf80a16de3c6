"""Train and score a classify readout on a 4DS encoder (procedural scenes by default).

Example: python recipes/probe_classify.py --steps 300 --out out/probe_classify
Writes classify metrics JSON (probe vs trivial baseline: camera-motion classes), a loss
curve, the trained readout and pictures; see `keras4ds.readouts.recipe` and `--help`.
"""
import os
import sys

if "--backend" in sys.argv[:-1]:  # the Keras backend is fixed when keras is first imported
    os.environ["KERAS_BACKEND"] = sys.argv[sys.argv.index("--backend") + 1]

from keras4ds.readouts.recipe import main  # noqa: E402

if __name__ == "__main__":
    main("classify")
