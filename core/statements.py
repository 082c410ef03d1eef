"""The statement of reasons every rejection carries (EU Digital Services Act, article 17).

It says on what ground the comment was rejected (the label, rule or reason code that decided),
whether a model or a person decided, a text for the author, and where to appeal. The text comes
from the source's own template for that ground, else from DEFAULT_TEXTS; the appeal address
from the source's `appeal_url` template. A rejection stores its statement with the decision, so
the author is later shown what they were told then, whatever the templates say now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from string import Template
from typing import Any
from urllib.parse import quote

from core.domain import LABELS, Actor, Status
from core.reasons import REJECT_REASONS

# Ground -> the author's text. $until is the end of a suspension.
DEFAULT_TEXTS: dict[str, str] = {
    "toxic": "Your comment was removed because it is rude or abusive.",
    "identity_hate": "Your comment was removed because it attacks people for who they are: "
    "their origin, religion, gender, sexuality or disability.",
    "threat": "Your comment was removed because it threatens or calls for violence.",
    "spam": "Your comment was removed because it promotes products, links or schemes "
    "unrelated to the article.",
    "blocklist": "Your comment was removed because it contains words this site does not publish.",
    "suspension": "Your comment was not published because you are suspended from commenting "
    "until $until.",
    "ban": "Your comment was not published because you are banned from commenting.",
    "hate": "Your comment was removed because it attacks people for who they are.",
    "harassment": "Your comment was removed because it harasses a person.",
    "personal_info": "Your comment was removed because it shares someone's personal information.",
    "off_topic": "Your comment was removed because it is off topic.",
    "other": "Your comment was removed because it breaks this site's rules for comments.",
}
# Every ground a statement can name: the model's labels and rules, and the moderators' codes.
GROUNDS: tuple[str, ...] = tuple(dict.fromkeys([*LABELS, *DEFAULT_TEXTS, *REJECT_REASONS]))
MAX_TEMPLATE_CHARS = 1000
APPEAL_URL_FIELDS = ("external_id", "comment_id")


def ground_of(actor: str, reasons: Sequence[Mapping[str, Any]], reason_code: str | None) -> str:
    """What decided a rejection: the moderator's reason code, or the model's rejecting rule."""
    if actor == Actor.MODERATOR.value:
        return reason_code if reason_code in GROUNDS else "other"
    for reason in reasons:
        if reason.get("outcome") != Status.REJECTED.value:
            continue
        kind = reason.get("kind")
        if kind == "score" and reason.get("label") in GROUNDS:
            return str(reason["label"])
        if kind == "blocklist":
            return "blocklist"
        if kind == "sanction" and reason.get("sanction") in GROUNDS:
            return str(reason["sanction"])
    return "other"


def appeal_url_for(template: str | None, external_id: str, comment_id: str) -> str | None:
    if not template:
        return None
    return Template(template).safe_substitute(
        external_id=quote(external_id, safe=""), comment_id=quote(comment_id, safe="")
    )


def statement_of_reasons(
    *,
    actor: str,
    reasons: Sequence[Mapping[str, Any]],
    reason_code: str | None,
    templates: Mapping[str, Any] | None,
    appeal_url: str | None,
    external_id: str,
    comment_id: str,
) -> dict[str, Any]:
    """{"automated", "ground", "text", "appeal_url"} of one rejection."""
    ground = ground_of(actor, reasons, reason_code)
    template = str((templates or {}).get(ground) or DEFAULT_TEXTS.get(ground) or "")
    until = next(
        (str(r.get("until")) for r in reasons if r.get("kind") == "sanction" and r.get("until")),
        "",
    )
    return {
        "automated": actor == Actor.MODEL.value,
        "ground": ground,
        "text": Template(template or DEFAULT_TEXTS["other"]).safe_substitute(until=until),
        "appeal_url": appeal_url_for(appeal_url, external_id, comment_id),
    }
