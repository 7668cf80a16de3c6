"""One long-lived timing worker of tools/performance.py: a system built once, timed on
request.

    python tools/performance_worker.py '{"system": "keras4ds", "size": "s", ...}'

Protocol (JSON lines): after building, the worker prints one `READY {...}` line (first-call
seconds, threads, blocks computed, FLOPs per call); then for every `time N` line on stdin it
runs N calls and prints `TIMED {"seconds": per call}`; `exit` ends it. Systems:

- `keras4ds`: `keras4ds.load_official` + `keras4ds.inference.compile_forward` on the worker's
  `KERAS_BACKEND` (jax, tensorflow or torch), the whole encoder;
- `official`: the official Flax encoder, jitted (h_{L-1}: its last block is never computed);
- `torch_port`: the PyTorch port, eager under `torch.no_grad()`, every block;
- `matmul`: float32 matmuls of the spec's `library` at the spec's shapes; `TIMED` carries
  each shape's best FLOP/s over the N repeats.

Each system writes h_{L-1} `(B, N, D)` of the shared input to `spec["check"]` (.npy) so the
parent can compare outputs.
"""
from __future__ import annotations

import json
import os
import sys
import time

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(TOOLS))
sys.path.insert(0, TOOLS)


def _threads(library):
    """How many threads `library` computes with, as it reports it."""
    cores = os.cpu_count()
    if library == "torch":
        import torch
        return str(torch.get_num_threads())
    if library == "tensorflow":
        import tensorflow as tf
        intra = tf.config.threading.get_intra_op_parallelism_threads()
        return str(intra) if intra else f"default ({cores})"
    if library == "numpy":
        try:
            from threadpoolctl import threadpool_info
            return ",".join(str(pool["num_threads"]) for pool in threadpool_info()) or "1"
        except ImportError:
            return f"default ({cores})"
    return f"XLA default ({cores})"  # jax on CPU: XLA's own pool over every core


def _flops(config, tokens, batch, blocks):
    from benchmark import encoder_flops
    return encoder_flops(config["width"], config["depth"], config["mlp_dim"], tokens,
                         2 * 16 * 16 * 3, batch, blocks=blocks)


def build_keras4ds(spec, video):
    """keras4ds' encoder on this process's backend: `(call, check output, blocks, threads)`."""
    import keras
    from keras import ops

    import keras4ds
    from keras4ds.inference import compile_forward
    encoder = keras4ds.load_official(spec["npz"])
    forward = compile_forward(encoder.call, encoder.variables)
    backend = keras.backend.backend()
    tensor = ops.convert_to_tensor(video)
    call = ((lambda: forward(tensor).numpy()) if backend == "tensorflow"
            else (lambda: forward(tensor)))
    check = lambda: ops.convert_to_numpy(encoder.hidden_state(tensor, encoder.depth - 1))  # noqa: E731
    return call, check, encoder.depth, _threads(backend)


def build_official(spec, video):
    import jax.numpy as jnp
    from reference_systems import official_flax_forward, official_params
    params, forward = official_params(spec["npz"]), official_flax_forward(spec["size"])
    tensor = jnp.asarray(video)
    call = lambda: forward(params, tensor).block_until_ready()  # noqa: E731
    import numpy as np
    return call, lambda: np.asarray(call()), spec["depth"] - 1, _threads("jax")


def build_torch_port(spec, video):
    import numpy as np
    import torch
    from reference_systems import torch_port_encoder
    arrays = dict(np.load(spec["npz"]))
    config = {k: spec[k] for k in ("width", "depth", "mlp_dim", "num_heads")}
    port = torch_port_encoder(spec["torch_port"], arrays, config, spec["frames"],
                              spec["resolution"])
    tensor = torch.from_numpy(np.ascontiguousarray(video.transpose(0, 4, 1, 2, 3)))

    def call():
        with torch.no_grad():
            return port(tensor)
    return call, lambda: call()[-1].numpy(), spec["depth"], _threads("torch")


def matmul_rates(library, shapes, repeats):
    """Best float32 FLOP/s of `library` for each `(m, k, n)` in `shapes` over `repeats`."""
    import numpy as np
    rng = np.random.default_rng(0)
    rates = {}
    for m, k, n in shapes:
        a = rng.standard_normal((m, k), np.float32)
        b = rng.standard_normal((k, n), np.float32)
        run = _matmul(library, a, b)
        run()
        best = min(_seconds(run) for _ in range(repeats))
        rates[f"{m}x{k}x{n}"] = 2.0 * m * k * n / best
    return rates


def _matmul(library, a, b):
    if library == "numpy":
        return lambda: a @ b
    if library == "jax":
        import jax
        f, ja, jb = jax.jit(lambda x, y: x @ y), jax.numpy.asarray(a), jax.numpy.asarray(b)
        return lambda: f(ja, jb).block_until_ready()
    if library == "tensorflow":
        import tensorflow as tf
        ta, tb = tf.constant(a), tf.constant(b)
        return lambda: tf.linalg.matmul(ta, tb).numpy()
    if library == "torch":
        import torch
        pa, pb = torch.from_numpy(a), torch.from_numpy(b)
        return lambda: torch.matmul(pa, pb)
    raise ValueError(f"unknown matmul library {library!r}")


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


BUILDERS = {"keras4ds": build_keras4ds, "official": build_official,
            "torch_port": build_torch_port}


def main(spec):
    if spec["system"] == "matmul":
        print("READY " + json.dumps({"threads": _threads(spec["library"])}), flush=True)
        for line in sys.stdin:
            if line.strip() == "exit":
                return 0
            repeats = int(line.split()[1])
            rates = matmul_rates(spec["library"], spec["shapes"], repeats)
            print("TIMED " + json.dumps({"rates": rates}), flush=True)
        return 0
    import numpy as np
    video = np.load(spec["video"])
    call, check, blocks, threads = BUILDERS[spec["system"]](spec, video)
    first_call = _seconds(call)
    np.save(spec["check"], np.asarray(check(), np.float32))
    tokens = spec["tokens"]
    print("READY " + json.dumps({"first_call_s": first_call, "threads": threads,
                                 "blocks": blocks,
                                 "flops": _flops(spec, tokens, spec["batch"], blocks)}),
          flush=True)
    for line in sys.stdin:
        if line.strip() == "exit":
            return 0
        calls = int(line.split()[1])
        start = time.perf_counter()
        for _ in range(calls):
            call()
        seconds = (time.perf_counter() - start) / calls
        print("TIMED " + json.dumps({"seconds": seconds}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
