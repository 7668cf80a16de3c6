"""4DS models: encoder, readouts and the depth model."""
from keras4ds.models.backbone import Backbone
from keras4ds.models.depth import DepthModel
from keras4ds.models.encoder import FourDSEncoder, official_readout_index
from keras4ds.models.presets import SIZES, count_parameters, size_config
from keras4ds.models.readout import AttentionReadout, DepthReadout, EncoderToReadout
