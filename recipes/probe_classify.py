"""Train and score a classify readout on a 4DS encoder (procedural scenes by default).

Example: python recipes/probe_classify.py --steps 300 --out out/probe_classify
Writes classify metrics JSON (probe vs trivial baseline: camera-motion classes), a loss
curve, the trained readout and pictures; see `keras4ds_apps.probe` and `--help`.
"""
from keras4ds_apps.probe import main

if __name__ == "__main__":
    main("classify")
