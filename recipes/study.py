"""Miniature 4DS study (same as `keras4ds study`).

    python recipes/study.py --out study_out            # default budget, 22 min on 2 CPU cores
    python recipes/study.py --budget tiny --out /tmp/s  # smoke run, about a minute
    python recipes/study.py --budget large --backend jax --out big_study
"""
import sys

from keras4ds.study import main

if __name__ == "__main__":
    sys.exit(main())
