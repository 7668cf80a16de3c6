"""Sharding for 4DS models: LayoutMaps and data / model parallel distributions."""
from keras4ds.distribution.layouts import RULES, fitting_heads, layout_map, matching_rules, model_axis_size
from keras4ds.distribution.strategies import (
    data_parallel,
    initialize_processes,
    is_primary_process,
    mirrored_strategy,
    model_parallel,
    replica_rows,
    replica_share,
    same_on_every_process,
)
