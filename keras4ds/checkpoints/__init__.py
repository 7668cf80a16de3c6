"""Official 4DS `.npz` checkpoints and Keras preset folders."""
from keras4ds.checkpoints.official import CheckpointError, load_official, read_official_npz
from keras4ds.checkpoints.preset import load_preset, save_preset
from keras4ds.checkpoints.random_official import write_random_official
