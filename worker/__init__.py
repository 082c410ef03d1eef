"""The Celery worker: scores comments, delivers decision events, sweeps up lost work."""

# Its task names are defined in core/tasks.py, the contract with the web process.
