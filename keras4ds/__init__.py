"""keras4ds: the 4DS video models of "Scaling 4D Representations" in Keras 3."""
from keras4ds.checkpoints import load_official, load_preset, save_preset
from keras4ds.models import FourDSEncoder, SIZES, count_parameters, official_readout_index, size_config

__version__ = "0.1.0"
