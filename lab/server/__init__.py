"""The measured server: what runs on the far side of the socket.

app.py            the lab's inference server (`lab.server.app:app`): /health, /predict, the twins
scenarios/        each scenario's `sync`, `async` and `broken` twins, side by side
observability.py  `instrument(app)`: timing, limits, `/lab/stats`, `/metrics` for any FastAPI app
timing.py         the pure ASGI middleware that stamps and counts every request; owns the heartbeat
handlers.py       which requests are in their handler: endpoint and dependency functions, counted while they run
watchdog.py       an off-loop watchdog that names the line blocking the event loop
unawaited.py      coroutines created and never awaited, named at the line that created them
made.py           process pools, processes and HTTP clients made while a request is served, counted
process_pool.py   the lab server's process pool, counted: calls running in a process, and calls waiting for one
limits.py         body and value limits (a 4xx, never a 500)
metrics.py        Prometheus text for `/metrics`
store.py          the fake downstream feature store
host.py           the child process's entry point: import an app, instrument it, run uvicorn
"""
