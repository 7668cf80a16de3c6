"""Sharding for 4DS models: LayoutMaps and data / model parallel distributions."""
from keras4ds.distribution.layouts import RULES, layout_map, matching_rules
from keras4ds.distribution.strategies import data_parallel, mirrored_strategy, model_parallel, replica_share
