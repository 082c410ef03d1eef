"""The Celery worker: scores comments, delivers decision events, sweeps up lost work."""

# Task names are the contract with the web process, which sends them by name (service/queue.py).
SCORE_COMMENT = "worker.score_comment"
DELIVER_EVENT = "worker.deliver_event"
SWEEP = "worker.sweep"
