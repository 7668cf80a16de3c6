"""MAE pretraining of the 4DS encoder: masking, decoders, loss, optimizer, training loop."""
from keras4ds.mae.evaluate import heldout_loss
from keras4ds.mae.masking import random_mask
from keras4ds.mae.model import DECODERS, MaskedAutoencoder
from keras4ds.mae.optimizer import make_optimizer
from keras4ds.mae.train import pretrain
