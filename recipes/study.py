"""Miniature 4DS study (same as `keras4ds study`); see `--help` and `keras4ds_apps.study`.

    python recipes/study.py --out study_out            # default budget
    python recipes/study.py --budget tiny --out /tmp/s  # smoke run, about a minute
    python recipes/study.py --budget large --backend jax --out big_study
"""
import sys

from keras4ds_apps.study import main

if __name__ == "__main__":
    sys.exit(main())
