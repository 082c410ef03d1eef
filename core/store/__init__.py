"""Storage use cases the web process, the worker and the CLI share, one module per thing stored.

`sources` (sources and their credentials), `intake` (webhook ids, comments and revisions) and
`decisions` (decisions and their CMS events). The names are also importable from `core.store`.
"""

from core.store.decisions import (
    ModelDecision,
    awaiting_model,
    event_payload,
    record_author_event,
    record_comment_event,
    record_decision,
    record_model_decisions,
    stale_pending_ids,
)
from core.store.ids import new_id, sha256_hex
from core.store.intake import (
    Accepted,
    IncomingComment,
    IntakeSource,
    Receipt,
    WebhookReplayed,
    accept_comment,
    accept_new_comment,
    forget_webhooks_before,
    intake_source,
    remember_webhook,
)
from core.store.sources import (
    NewSource,
    create_source,
    new_webhook_secret,
    source_by_token,
    source_policy,
)

__all__ = [
    "Accepted",
    "IncomingComment",
    "IntakeSource",
    "ModelDecision",
    "NewSource",
    "Receipt",
    "WebhookReplayed",
    "accept_comment",
    "accept_new_comment",
    "awaiting_model",
    "create_source",
    "event_payload",
    "forget_webhooks_before",
    "intake_source",
    "new_id",
    "new_webhook_secret",
    "record_author_event",
    "record_comment_event",
    "record_decision",
    "record_model_decisions",
    "remember_webhook",
    "sha256_hex",
    "source_by_token",
    "source_policy",
    "stale_pending_ids",
]
