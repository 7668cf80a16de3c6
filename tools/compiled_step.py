"""The real MAE train step compiled on a device mesh with abstract weights (JAX backend).

The encoder, MAE decoder and AdamW moments are built inside a Keras `StatelessScope` that
never initialises them, so a 22B model costs no memory: each variable is only a shape, a
dtype and the sharding the keras4ds LayoutMap gives it (optimizer moments take their
weight's). Keras' own JAX `train_step` (loss, gradients, AdamW update, loss tracker) is
lowered with those shardings and a batch split over the "batch" axis, and compiled by XLA
for the mesh. On CPU the mesh is fake devices: set
`XLA_FLAGS=--xla_force_host_platform_device_count=N` (and, for the memory-minimising
schedule GPU/TPU compilers aim for, `--xla_cpu_enable_concurrency_optimized_scheduler=false`)
before JAX starts; `tools/plan.py --compile` does. XLA's CPU scheduler computes the
rematerialised forward of every block long before the backward pass needs it, so a CPU
compile shows no saving from remat (benchmarks/scale.md). The TPU compiler does not: with
libtpu installed, `tpu_devices("v5p:8x8x4")` gives a TPU slice's chips as compile-only
devices, and the same step is compiled for them on this machine (`plan.py --tpu`).
"""
import re
import time

import numpy as np

COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")


def _replica_groups(text, num_devices):
    """The device groups of one HLO collective's `replica_groups=` (mesh axes
    `mesh['axis_0'=4,'axis_1'=2] {'axis_1'}`, explicit `{{0,1},{2,3}}` or iota
    `[G,S]<=[dims]T(perm)`), as a list of lists of device ids."""
    axes = re.search(r"replica_groups=mesh\[([^\]]*)\](?:,\s*device_ids=\(\[([0-9,]+)\]"
                     r"(?:T\(([0-9,]+)\))?\))?\s*\{([^}]*)\}", text)
    if axes:
        names = re.findall(r"'([^']+)'=(\d+)", axes.group(1))
        sizes = [int(n) for _, n in names]
        ids = np.arange(int(np.prod(sizes)))
        if axes.group(2):  # the device at each mesh position, as an iota
            ids = ids.reshape([int(n) for n in axes.group(2).split(",")])
            if axes.group(3):
                ids = ids.transpose([int(n) for n in axes.group(3).split(",")])
        ids = ids.reshape(sizes)
        spanned = re.findall(r"'([^']+)'", axes.group(4))
        order = [i for i, (name, _) in enumerate(names) if name not in spanned] + \
                [i for i, (name, _) in enumerate(names) if name in spanned]
        width = int(np.prod([int(n) for name, n in names if name in spanned]))
        return ids.transpose(order).reshape(-1, width).tolist()
    explicit = re.search(r"replica_groups=\{(\{[0-9,{} ]*\})\}", text)
    if explicit:
        return [[int(i) for i in group.split(",") if i.strip()]
                for group in re.findall(r"\{([0-9, ]*)\}", explicit.group(1))]
    iota = re.search(r"replica_groups=\[([0-9,]+)\]<=\[([0-9,]+)\](?:T\(([0-9,]+)\))?", text)
    if iota:
        shape = [int(n) for n in iota.group(1).split(",")]
        ids = np.arange(int(np.prod([int(n) for n in iota.group(2).split(",")])))
        ids = ids.reshape([int(n) for n in iota.group(2).split(",")])
        if iota.group(3):
            ids = ids.transpose([int(n) for n in iota.group(3).split(",")])
        return ids.reshape(shape).tolist()
    pairs = re.search(r"source_target_pairs=\{([0-9,{} ]*)\}", text)
    if pairs:
        return [[int(a), int(b)] for a, b in re.findall(r"\{(\d+),(\d+)\}", pairs.group(1))]
    return [list(range(num_devices))]


def _axis_of(group, mesh_ids, axis_names):
    """Which mesh axes a device group spans: 'model', 'batch', 'batch+model' or 'none'."""
    coords = np.array([np.argwhere(mesh_ids == d)[0] for d in group])
    varying = [name for k, name in enumerate(axis_names) if len(set(coords[:, k])) > 1]
    return "+".join(varying) or "none"


def count_collectives(hlo_text, mesh_ids, axis_names):
    """`{op: {axes: count}}` of the collectives in compiled HLO text, by the mesh axes
    their device groups span (`mesh_ids`: the device id at each mesh position)."""
    counts = {}
    for line in hlo_text.splitlines():
        op = next((c for c in COLLECTIVES if re.search(rf"\s{c}(-start)?\(", line)), None)
        if op is None:
            continue
        group = _replica_groups(line, mesh_ids.size)[0]
        axes = _axis_of(group, mesh_ids, axis_names)
        counts.setdefault(op, {}).setdefault(axes, 0)
        counts[op][axes] += 1
    return counts


def tpu_devices(topology):
    """The chips of a TPU slice `topology` (e.g. "v5p:8x8x4", 256 chips) as compile-only
    devices: `compile_train_step(..., devices=tpu_devices(...))` compiles with the TPU
    compiler itself, on a machine without a TPU. Needs the libtpu wheel
    (`pip install "jax[tpu]"`); one process at a time holds libtpu's lock file."""
    from jax.experimental import topologies

    try:
        return list(topologies.get_topology_desc(platform="tpu", topology_name=topology).devices)
    except Exception as error:  # no libtpu, an unknown topology, a held lock file
        import importlib.util

        hint = ("; a TPU compile needs libtpu: pip install 'jax[tpu]'"
                if importlib.util.find_spec("libtpu") is None else "")
        raise RuntimeError(f"cannot make the TPU topology {topology!r} ({error}){hint}") from error


def _optimizer_layouts(optimizer, trainable, distribution):
    """The TensorLayout of each optimizer variable: its weight's for the moments (their
    paths embed the weight's), replicated for the step counter and learning rate."""
    by_name = {v.path.replace("/", "_"): distribution.get_variable_layout(v) for v in trainable}
    layouts = []
    for v in optimizer.variables:
        stem = v.path.split("/", 1)[-1].rsplit("_", 1)[0]
        layouts.append(by_name.get(stem) or distribution.get_variable_layout(v))
    return layouts


def compile_train_step(size, mesh, batch, frames=16, image_size=224, mask_ratio=0.95,
                       decoder="standard", decoder_width=512, decoder_depth=4, decoder_heads=None,
                       remat=False, mixed_bfloat16=False, devices=None, bfloat16_parameters=False):
    """Compile the MAE train step of 4DS-`size` on a `mesh` (batch, model) of `devices`
    (default: the visible ones; or `tpu_devices(topology)`) for a global `batch` of
    `(frames, image_size, image_size, 3)` clips.

    Returns per-device bytes `{"argument", "output", "alias", "temp", "total"}` (total =
    argument + output - alias + temp: what the step holds at its peak), `collectives`
    (`count_collectives`), parameter counts and `compile_seconds`. `bfloat16_parameters`:
    the encoder is `FourDSEncoder(dtype="bfloat16")` (its gradients and AdamW moments follow).
    """
    import jax
    import keras

    from keras4ds.distribution import model_parallel
    from keras4ds.mae import MaskedAutoencoder
    from keras4ds.mae.optimizer import make_optimizer
    from keras4ds.models import FourDSEncoder

    if keras.backend.backend() != "jax":
        raise NotImplementedError("compile_train_step needs the JAX backend")
    devices = list(jax.devices()) if devices is None else list(devices)
    if mesh[0] * mesh[1] != len(devices):
        raise ValueError(f"a {mesh[0]}x{mesh[1]} mesh needs {mesh[0] * mesh[1]} devices, "
                         f"{len(devices)} are given (for fake CPU devices, XLA_FLAGS="
                         f"--xla_force_host_platform_device_count=N before JAX starts)")
    if batch % mesh[0]:
        raise ValueError(f"batch {batch} does not split over the batch axis of {mesh[0]}")
    keras.backend.clear_session()
    policy = keras.mixed_precision.global_policy()
    if mixed_bfloat16:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        distribution = model_parallel(mesh, devices)
        # Outside the distribution: the optimizer's step counter holds data, which a
        # compile-only device (a TPU topology's) cannot; the step sees it by shape only.
        optimizer = make_optimizer(1e-4, 1000)
        with distribution.scope(), keras.StatelessScope(initialize_variables=False):
            encoder = FourDSEncoder.from_size(size, num_frames=frames,
                                              image_size=(image_size, image_size), remat=remat,
                                              dtype="bfloat16" if bfloat16_parameters else None)
            mae = MaskedAutoencoder(encoder, decoder=decoder, mask_ratio=mask_ratio,
                                    decoder_width=decoder_width, decoder_depth=decoder_depth,
                                    decoder_heads=decoder_heads)
            optimizer.build(mae.trainable_variables)
            mae.compile(optimizer=optimizer)
        groups = (mae.trainable_variables, mae.non_trainable_variables, optimizer.variables,
                  mae.metrics_variables)
        layouts = ([distribution.get_variable_layout(v) for v in groups[0]],
                   [distribution.get_variable_layout(v) for v in groups[1]],
                   _optimizer_layouts(optimizer, groups[0], distribution),
                   [distribution.get_variable_layout(v) for v in groups[3]])
        shardings = tuple([layout.backend_layout for layout in group] for group in layouts)
        state = tuple([jax.ShapeDtypeStruct(tuple(v.shape), v.dtype, sharding=s)
                       for v, s in zip(group, group_shardings)]
                      for group, group_shardings in zip(groups, shardings))
        data_layout = distribution.get_data_layout((batch, frames, image_size, image_size, 3))
        video = jax.ShapeDtypeStruct((batch, frames, image_size, image_size, 3), "float32",
                                     sharding=data_layout.backend_layout)

        def step(state, video):
            return mae.train_step(state, (video,))

        start = time.time()
        compiled = jax.jit(step, out_shardings=(None, shardings), donate_argnums=0).lower(
            state, video).compile()
        seconds = time.time() - start
    finally:
        keras.mixed_precision.set_global_policy(policy)
    memory = compiled.memory_analysis()
    sizes = {"argument": memory.argument_size_in_bytes, "output": memory.output_size_in_bytes,
             "alias": memory.alias_size_in_bytes, "temp": memory.temp_size_in_bytes}
    sizes = {k: int(v) for k, v in sizes.items()}
    sizes["total"] = sizes["argument"] + sizes["output"] - sizes["alias"] + sizes["temp"]
    # HLO device groups name positions in the program's device assignment: the mesh, flat.
    mesh_ids = np.arange(mesh[0] * mesh[1]).reshape(mesh)
    return {**sizes, "compile_seconds": seconds,
            "encoder_parameters": int(sum(np.prod(v.shape) for v in encoder.weights)),
            "parameters": int(sum(np.prod(v.shape) for v in groups[0])),
            "collectives": count_collectives(compiled.as_text(), mesh_ids,
                                             distribution.device_mesh.axis_names)}
