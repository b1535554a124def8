"""The scenario twins, one module per scenario: `sync`, `async` and `broken` side by side (see `lab.scenarios`).

sleep.py       waiting on I/O: `time.sleep` stands in for any blocking call
predict.py     `/predict` with simulated model latency: the sleep scenario as an inference service
cpu.py         CPU-bound inference in pure Python: it holds the GIL
numpy.py       NumPy inference: kernels that release the GIL
onnx.py        ONNX Runtime inference: `InferenceSession.run` releases the GIL
downstream.py  calling a slow downstream service (the fake feature store)
pool.py        thread-pool limits: which pool a blocking call lands in, and how many threads it has
params.py      query parameters shared by the scenarios, bounded
"""
