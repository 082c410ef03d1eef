"""Small cleaners for the quirks the raw sets carry, so every set reaches training as plain text."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>")
_LINE_BREAK_TAG = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
# "RT @user:" also glued to the previous word ("lmaoRT @x:"), as old retweet clients wrote it.
_RETWEET = re.compile(r"\s*(?:\b[Rr][Tt]|(?<=[A-Za-z])RT)\s*@+\w*\s*:?\s*")
_BARE_RETWEET_PREFIX = re.compile(r"^(?:rt\b[\s:\"]*)+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
_ESCAPE = re.compile(r"\\(r\\n|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[nrt'\"\\])")
_SIMPLE_ESCAPES = {"r\\n": "\n", "n": "\n", "r": "\n", "t": "\t", "'": "'", '"': '"', "\\": "\\"}
_LATIN1_MOJIBAKE = re.compile(r"[\xc2-\xf4][\x80-\xbf]+")
_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]")
_HORIZONTAL_SPACE = re.compile(r"[ \t\xa0]+")
_LEADING_JUNK = re.compile(r'^[\s":]+')
_TRAILING_QUOTES = re.compile(r'[\s"]+$')
_QUOTE_RUN = re.compile(r'"(?:\s*")+')

# How many layers of written-out escapes are undone (kaggle-insults has up to three).
MAX_ESCAPE_DEPTH = 4
# The placeholder every @mention becomes: who was addressed is noise, that someone was is not.
MENTION_PLACEHOLDER = "@user"


def unescape_html(text: str) -> str:
    """Turns entities like &amp; and &#8217; into characters (tweets, YouTube, OLID)."""
    # Twice: some tweets were escaped twice ("&amp;amp;").
    return html.unescape(html.unescape(text)) if "&" in text else text


def strip_html_tags(text: str) -> str:
    """Turns <br /> into a newline and drops the other tags, keeping their inner text (YouTube)."""
    if "<" not in text:
        return text
    return _TAG.sub("", _LINE_BREAK_TAG.sub("\n", text))


def decode_literal_escapes(text: str) -> str:
    """Decodes escapes written out as text (\\xa0, \\u2019, \\\\n), again while some remain.

    Kaggle's export escaped some comments up to three times, so one pass is not enough.
    """
    for _ in range(MAX_ESCAPE_DEPTH):
        decoded = _ESCAPE.sub(_decode_escape, text) if "\\" in text else text
        if decoded == text:
            break
        text = decoded
    return text


def _decode_escape(match: re.Match[str]) -> str:
    body = match.group(1)
    if body[0] in "xuU":
        return chr(int(body[1:], 16))
    return _SIMPLE_ESCAPES[body]


def repair_mojibake(text: str) -> str:
    """Re-decodes UTF-8 bytes that were read as Latin-1 ("Ã©" -> "é", "Â\\xa0" -> nbsp)."""
    if not _LATIN1_MOJIBAKE.search(text):
        return text
    return _LATIN1_MOJIBAKE.sub(_redecode, text)


def _redecode(match: re.Match[str]) -> str:
    try:
        return match.group(0).encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return match.group(0)


def strip_retweet_markers(text: str) -> str:
    """Removes "RT @user:" markers anywhere and a bare leading "rt :" (handle already removed)."""
    text = _RETWEET.sub(" ", text).lstrip()
    return _BARE_RETWEET_PREFIX.sub("", text)


def replace_mentions(text: str) -> str:
    """Replaces every @mention by one placeholder so user names do not become features."""
    return _MENTION.sub(MENTION_PLACEHOLDER, text) if "@" in text else text


def drop_private_use(text: str) -> str:
    """Drops private-use code points (old iOS emoji sent as &#57361; in tweets): no meaning."""
    return _PRIVATE_USE.sub("", text)


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR become LF, so the same comment compares equal across files."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def strip_surrounding_quotes(text: str) -> str:
    """Removes one pair of quotes wrapped around the whole text (kaggle-insults: "text")."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        return stripped[1:-1]
    return text


def strip_stray_quotes(text: str) -> str:
    """Removes the quote debris of removed handles (implicit-hate): runs like " " and the ends."""
    return _TRAILING_QUOTES.sub("", _LEADING_JUNK.sub("", _QUOTE_RUN.sub('"', text)))


def collapse_spaces(text: str) -> str:
    """Collapses runs of spaces, tabs and no-break spaces inside a line to one space."""
    return _HORIZONTAL_SPACE.sub(" ", text)


def trim(text: str) -> str:
    """Strips surrounding whitespace and byte-order marks (empty texts are dropped afterwards)."""
    return text.strip().strip("\ufeff").strip()
