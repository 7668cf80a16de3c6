"""Convert an official 4DS `.npz` into a Keras preset folder.

Usage: python tools/convert.py IN.npz OUT_DIR   (same as `keras4ds convert IN.npz OUT_DIR`)
"""
import sys

from keras4ds_apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", *sys.argv[1:]]))
