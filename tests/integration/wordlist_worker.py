"""`celery -A tests.integration.wordlist_worker`: the real worker app with the word-list classifier.

For integration tests about the pipeline (queue, retries, crashes, sweeps) rather than the model:
installed before the pool forks, so every child inherits it instead of loading the artifact.
"""

from __future__ import annotations

from tests.wordlist_scorer import WordListScorer
from worker.app import celery
from worker.scorer import use_scorer

use_scorer(WordListScorer())

__all__ = ["celery"]
