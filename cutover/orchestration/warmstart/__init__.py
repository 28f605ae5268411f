"""Warm starts for a process worker's flow runs: a fork server that has Prefect and the flows imported.

A process worker starts every flow run as a new interpreter (``python -m prefect.engine``) that imports
Prefect (~1.3 s of CPU) and the flow's modules (~0.6 s) before the run can begin: on small tables that
start-up is most of the run. :mod:`~cutover.orchestration.warmstart.server` imports them once and forks a
child per run; :mod:`~cutover.orchestration.warmstart.client` is the work pool's job command: it hands
the worker's environment, arguments, working directory and standard streams to the server, relays
signals to the run, and exits with its exit status, so the worker cannot tell it from the engine itself.

Where no server answers (none started, or its code changed on disk) the client becomes
``python -m prefect.engine`` itself (``exec``): a run never depends on the server. CPython's
``multiprocessing.forkserver`` does the same for its own workers but cannot run a foreign command with
the caller's streams and environment, hence this small protocol (:mod:`~.protocol`).
"""
