from __future__ import annotations

import subprocess
import sys

import pytest

from core.settings import Settings
from core.tasks import DELIVER_DUE, DELIVER_EVENT, SCORE_COMMENT, SWEEP
from service.queue import create_client
from worker.app import create_celery
from worker.batches import ScoringBatches


class TestCreateCelery:
    def test_create_celery_uses_settings_queue_and_broker(self, settings: Settings) -> None:
        app = create_celery(settings)
        assert app.conf.task_default_queue == settings.queue_name
        assert app.conf.broker_url == settings.broker_url

    def test_create_celery_delivers_at_least_once(self, settings: Settings) -> None:
        conf = create_celery(settings).conf
        assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
        assert conf.worker_prefetch_multiplier == settings.score_batch_size
        assert conf.task_ignore_result is True
        assert (conf.task_serializer, list(conf.accept_content)) == ("json", ["json"])

    def test_create_celery_gives_pool_processes_time_to_load_the_model(
        self, settings: Settings
    ) -> None:
        assert create_celery(settings).conf.worker_proc_alive_timeout >= 60

    def test_create_celery_schedules_sweep_every_interval(self, settings: Settings) -> None:
        settings.sweep_interval_seconds = 7.0
        [entry] = create_celery(settings).conf.beat_schedule.values()
        assert (entry["task"], entry["schedule"]) == (SWEEP, 7.0)
        assert entry["options"]["queue"] == settings.queue_name

    def test_create_celery_registers_the_contract_task_names(self, settings: Settings) -> None:
        app = create_celery(settings)
        app.loader.import_default_modules()
        # The web process sends these names (from core.tasks) without importing the worker.
        assert {SCORE_COMMENT, DELIVER_EVENT, DELIVER_DUE, SWEEP} <= set(app.tasks)

    @pytest.mark.parametrize(("size", "batched"), [(1, False), (2, True), (100, True)])
    def test_create_celery_scores_in_batches_unless_size_is_one(
        self, settings: Settings, size: int, batched: bool
    ) -> None:
        settings.score_batch_size, settings.score_batch_wait_ms = size, 25.0
        app = create_celery(settings)
        app.loader.import_default_modules()
        task = app.tasks[SCORE_COMMENT]
        assert isinstance(task, ScoringBatches) is batched
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True)
        assert app.conf.worker_prefetch_multiplier == size
        if batched:
            assert (task.flush_every, task.flush_interval) == (size, 0.025)

    def test_create_celery_routes_deliveries_like_the_web_client(self, settings: Settings) -> None:
        worker_routes = create_celery(settings).conf.task_routes
        assert worker_routes == create_client(settings).conf.task_routes
        assert worker_routes[DELIVER_EVENT] == {"queue": settings.delivery_queue_name}


class TestWorkerImport:
    def test_worker_import_connects_nowhere_and_loads_no_model(self) -> None:
        # Nothing listens on port 1: importing must neither connect nor wait for Redis.
        code = (
            "import sys, worker.app, worker.tasks;"
            "worker.app.celery.loader.import_default_modules();"
            "print('sklearn' in sys.modules, 'models' in sys.modules)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={"REDIS_URL": "redis://127.0.0.1:1/0", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["False", "False"]
