"""Official 4DS `.npz` checkpoints and Keras preset folders."""
from keras4ds.checkpoints.official import CheckpointError, load_official, read_official_npz
from keras4ds.checkpoints.random_official import write_random_official
from keras4ds.models.preset_folder import load_preset, save_preset
