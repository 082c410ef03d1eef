"""Text normalisation before features, so obfuscated spellings meet the words the model learnt.

Every normalised character keeps the span of the ORIGINAL text it came from, so explanations
computed on the normalised text can be shown on the comment the reader wrote.

Steps, in order (each is a no-op on text it has nothing to do on, which keeps the common case fast):

0. Display order: where a directional override (U+202D, U+202E) reverses what a reader sees
   ("nice \u202etoidi uoy\u202c" shows as "nice you idiot"), the characters are put in the
   order shown (_display_order); elsewhere the logical order stays.
1. Unicode: NFKC and casefold per grapheme cluster (a base character with its combining marks);
   marks on a Latin base are dropped ("fück" -> "fuck"); control, format (zero-width, bidi
   overrides such as U+202E), lone surrogate, private-use and unassigned characters are
   removed (marks left without a letter go with them), line and paragraph
   separators and other Unicode spaces become spaces; curly quotes and dashes become ASCII
   ("don’t" -> "don't"). ASCII text skips this step (lower() only).
2. Whitespace: every run of whitespace (tab and newline included) becomes one space; ASCII control
   characters are removed; leading and trailing spaces are dropped.
3. Spaced-out words: 3+ single characters in a row with the same separator (" ", ".", ". ", "-",
   "_", "*", "~") are joined ("f u c k" -> "fuck", "s.t.u.p.i.d" -> "stupid") when at least two
   of them are letters, so "1 2 3" stays. Each joined letter maps to itself AND the separator after
   it, so the joined word maps back to all its original characters.
4. Leetspeak: inside a word that has letters, 0 1 3 4 5 7 8 9 @ $ ! + become o i e a s t b g a s i t
   ("1d10t" -> "idiot", "sh!t" -> "shit", "$tupid" -> "stupid", "@ss" -> "ass"). Left alone:
   words without letters ("2017", "10", "$5"), ordinals and units ("2nd", "1990s", "10pm", "5g",
   "1px"), letters followed by digits only ("covid19", "mp3"), "!" and "+" at a word's edge
   ("wow!", "c++"), mentions ("@jane99", but "@ss..." is folded), hashtags and hex colours
   ("#f5ffa"), escapes kept as text ("\\xa0"), e-mail addresses and URLs.
5. Repeated letters: a run of 3+ of the same letter is squeezed to 2, which keeps the common
   English doubles ("goooood" -> "good", "hellllo" -> "hello", "asssss" -> "ass"); the squeezed
   runs go down to 1 instead when that spells a word of the small insult lexicon below
   ("fuuuuck" -> "fuck", "stuuuupid" -> "stupid", "idiooooot" -> "idiot"). Words that are their
   triple ("www", "kkk", "viii") stay. Squeezing to 1 everywhere would break "good" and "cool";
   squeezing to 2 everywhere would leave "fuuck", which shares few n-grams with "fuck".

Each step is skipped unless a cheap test (str.translate plus substring search, which run at C
speed, rather than a regex scan per position) says it may apply, so a typical 200-character
comment costs a few string operations.

The result is idempotent: normalise(normalise(x).text).text == normalise(x).text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Normalised", "normalise", "normalised_text"]


@dataclass(frozen=True)
class Normalised:
    """Normalised text with, per character, the span [start, end) of the original it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    # Whether a bidi override put characters in display order (step 0): the map then runs
    # backwards in places, so a span's ends are the least start and the greatest end.
    reordered: bool = False

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised span [start, end) to the original span it was made from."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span [{start}, {end}) is not inside 0..{len(self.text)}")
        if self.reordered:
            return min(self.starts[start:end]), max(self.ends[start:end])
        return self.starts[start], self.ends[end - 1]


# --- step 1: Unicode ------------------------------------------------------------------------

_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_NON_ASCII_SPLIT = re.compile(r"([^\x00-\x7f]+)")
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_SPACE_CATEGORIES = frozenset({"Zs", "Zl", "Zp"})


# Curly quotes, primes and dashes as the ASCII a keyboard types ("don’t" -> "don't").
_TYPOGRAPHIC = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    }
)


def _is_mark(char: str) -> bool:
    return unicodedata.category(char)[0] == "M"


@lru_cache(maxsize=65536)
def _fold_cluster(cluster: str) -> str:
    """NFKC + casefold one grapheme cluster; drop it if it is a control or format character."""
    base = cluster[0]
    category = unicodedata.category(base)
    if category in _REMOVED_CATEGORIES:
        return " " if base.isspace() else ""
    if category in _SPACE_CATEGORIES:
        return " "
    folded = cluster
    # casefold can leave text that NFKC changes again ("ǅ"); a few rounds reach a fixed point.
    for _ in range(4):
        again = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", folded).casefold())
        decomposed = unicodedata.normalize("NFKD", again)
        if decomposed[:1].isascii() and not decomposed.isascii():
            # A Latin letter with accents or Zalgo marks: keep the letter, drop the marks.
            again = "".join(c for c in decomposed if not _is_mark(c))
            again = unicodedata.normalize("NFKC", again)
        again = again.translate(_TYPOGRAPHIC)
        if again == folded:
            break
        folded = again
    # Marks with no letter before them (a cluster that starts with one, or whose letter was
    # removed) are dropped, so the output never has a mark the next pass would attach elsewhere.
    folded = "".join(" " if c.isspace() else c for c in folded if c.isprintable() or c.isspace())
    return folded.lstrip("".join(c for c in folded if _is_mark(c)))


@lru_cache(maxsize=65536)
def _fold_run(run: str) -> tuple[tuple[str, int], ...]:
    """Fold each grapheme cluster (a base character and its combining marks) of a run."""
    clusters: list[str] = []
    for char in run:
        if clusters and _is_mark(char):
            clusters[-1] += char
        else:
            clusters.append(char)
    return tuple((_fold_cluster(cluster), len(cluster)) for cluster in clusters)


class _CharacterTable(dict[int, str]):
    """A str.translate table filled on first use: lookups of seen characters stay in C."""

    def __init__(self, value: Callable[[str], str]) -> None:
        super().__init__()
        self._value = value

    def __missing__(self, code: int) -> str:
        result = self._value(chr(code))
        if len(self) < _TABLE_LIMIT:  # a text of every code point must not grow it unbounded
            self[code] = result
        return result


_TABLE_LIMIT = 100_000
# Each character folded on its own (ASCII: lower() only, as on the pure-ASCII path).
_FOLD_TABLE = _CharacterTable(lambda c: c.lower() if c.isascii() else _fold_cluster(c))
# "" for a character that folds to exactly one character on its own; "x" for a mark (it joins the
# character before) or a character that folds to none or several.
_IRREGULAR_TABLE = _CharacterTable(
    lambda c: "x" if _is_mark(c) or len(_FOLD_TABLE[ord(c)]) != 1 else ""
)


def _fold_regular(text: str) -> str | None:
    """Step 1 on text whose every character folds to exactly one character ("é" -> "e", "’" ->
    "'"), so the map is the identity; None if some character folds to none, several or joins
    its neighbour (a mark)."""
    # Only the non-ASCII runs can be irregular (ASCII folds by lower()); translating them through
    # the table of irregular characters ("x" each, "" for the others) is a C loop.
    parts = _NON_ASCII_SPLIT.split(text)
    runs = parts[1::2]
    if "".join(runs).translate(_IRREGULAR_TABLE):
        return None
    # ASCII stretches take lower() (C speed); only the non-ASCII runs go through the table.
    parts[0::2] = [part.lower() for part in parts[0::2]]
    parts[1::2] = [run.translate(_FOLD_TABLE) for run in runs]
    return "".join(parts)


def _fold_unicode(text: str) -> tuple[str, Offsets, Offsets]:
    """Step 1 on text that is not pure ASCII, keeping the map to original offsets."""
    regular = _fold_regular(text)
    if regular is not None:
        return (regular, *_identity(len(text)))
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    for match in _NON_ASCII_RUN.finditer(text):
        run_start, run_end = match.span()
        if position < run_start and _is_mark(text[run_start]):
            run_start -= 1  # the ASCII letter these marks sit on belongs to the cluster
        if position < run_start:
            parts.append(text[position:run_start].lower())
            starts.extend(range(position, run_start))
            ends.extend(range(position + 1, run_start + 1))
        offset = run_start
        for folded, length in _fold_run(text[run_start:run_end]):
            if folded:
                parts.append(folded)
                starts.extend([offset] * len(folded))
                ends.extend([offset + length] * len(folded))
            offset += length
        position = run_end
    if position < len(text):
        parts.append(text[position:].lower())
        starts.extend(range(position, len(text)))
        ends.extend(range(position + 1, len(text) + 1))
    return "".join(parts), starts, ends


# --- step 0: display order where a bidi override reverses the text ------------------------------

_LRE, _RLE, _PDF, _LRO, _RLO = "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"
_ISOLATES = frozenset("\u2066\u2067\u2068")  # LRI, RLI, FSI
_PDI = "\u2069"
_PARAGRAPH = frozenset("\n\r\u2029\x1c\x1d\x1e\x85")
_RTL_CLASSES = frozenset({"R", "AL"})


def _may_override(text: str) -> bool:
    return _RLO in text or _LRO in text


def _display_order(text: str) -> list[int]:
    """Indices of ``text``'s characters in the order a reader sees them, where a directional
    override (U+202D LRO, U+202E RLO, closed by U+202C PDF, a paragraph end or the text's end)
    forces them; bidi controls themselves are left out.

    The Unicode Bidirectional Algorithm (UAX #9) restricted to what an override changes:
    outside every override each character keeps its place (right-to-left scripts stay in the
    logical order the model reads them in); inside one, levels follow rules X2-X5 (embeddings
    and isolates nest and suspend the override), characters not overridden take the even or odd
    level of their own direction (I1-I2), and rule L2 reverses each run from the highest level
    down to 1. So "nice \u202etoidi uoy\u202c article" reads "nice you idiot article".
    """
    order: list[int] = []
    levels: list[int] = []
    stack: list[tuple[str, int]] = []  # (kind, level): kind R/L override, E embedding, I isolate
    for index, char in enumerate(text):
        level = stack[-1][1] if stack else 0
        if char in (_RLO, _RLE) or char == "\u2067":
            kind = "R" if char == _RLO else ("E" if char == _RLE else "I")
            stack.append((kind, level + 1 if level % 2 == 0 else level + 2))
            continue
        if char in (_LRO, _LRE) or char in _ISOLATES:
            kind = "L" if char == _LRO else ("E" if char == _LRE else "I")
            stack.append((kind, level + 2 if level % 2 == 0 else level + 1))
            continue
        if char == _PDF:
            if stack and stack[-1][0] != "I":
                stack.pop()
            continue
        if char == _PDI:
            while stack and stack.pop()[0] != "I":
                pass
            continue
        if char in _PARAGRAPH:
            stack.clear()
        order.append(index)
        if not any(kind in "RL" for kind, _ in stack):
            levels.append(0)  # no override around it: logical order kept
        elif stack[-1][0] in "RL":
            levels.append(stack[-1][1])  # overridden: the override's level
        else:
            rtl = unicodedata.bidirectional(char) in _RTL_CLASSES
            levels.append(level + (level % 2 == 0) if rtl else level + level % 2)
    for top in range(max(levels, default=0), 0, -1):
        at = 0
        while at < len(order):
            if levels[at] < top:
                at += 1
                continue
            end = at
            while end < len(order) and levels[end] >= top:
                end += 1
            order[at:end] = order[at:end][::-1]
            levels[at:end] = levels[at:end][::-1]
            at = end
    return order


def _in_display_order(text: str) -> Normalised:
    """Step 0: normalise() of ``text`` in display order (_display_order), each normalised
    character mapped to the characters of ``text`` it came from (which may lie in reverse
    order there)."""
    order = _display_order(text)
    inner = normalise("".join(text[i] for i in order))  # no override left: no step 0 again
    starts: list[int] = []
    ends: list[int] = []
    for start, end in zip(inner.starts, inner.ends, strict=True):
        sources = order[start:end]
        starts.append(min(sources))
        ends.append(max(sources) + 1)
    return Normalised(inner.text, tuple(starts), tuple(ends), reordered=True)


# --- the rewriting helper ---------------------------------------------------------------------

# Text with its map; the map is a list once rewritten, or a tuple while still the identity.
Offsets = Sequence[int]
Rewrite = tuple[str, Offsets, Offsets]
Replace = Callable[[re.Match[str], Offsets, Offsets], Rewrite | None]


def _rewrite(
    text: str,
    starts: Offsets,
    ends: Offsets,
    matches: Iterable[re.Match[str]],
    replace: Replace,
) -> Rewrite:
    """Replace each match by `replace(match, starts, ends)`, which gives its text and map."""
    parts: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    position = 0
    changed = False
    for match in matches:
        result = replace(match, starts, ends)
        if result is None:
            continue
        changed = True
        start, end = match.span()
        parts.append(text[position:start])
        new_starts += starts[position:start]
        new_ends += ends[position:start]
        replacement, replacement_starts, replacement_ends = result
        parts.append(replacement)
        new_starts += replacement_starts
        new_ends += replacement_ends
        position = end
    if not changed:
        return text, starts, ends
    parts.append(text[position:])
    new_starts += starts[position:]
    new_ends += ends[position:]
    return "".join(parts), new_starts, new_ends


# --- step 2: whitespace and controls -----------------------------------------------------------

# After step 1 the only whitespace other than " " and the only controls left are ASCII ones.
# A full ASCII table: str.translate is several times faster when every ASCII code is mapped.
_WHITESPACE_TO_SPACE = str.maketrans(
    {chr(i): " " if chr(i).isspace() else chr(i) for i in range(128)}
)
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]+")
_SPACES = re.compile(r"  +")


def _drop(match: re.Match[str], starts: Offsets, ends: Offsets) -> Rewrite:
    return "", [], []


def _one_space(match: re.Match[str], starts: Offsets, ends: Offsets) -> Rewrite:
    start, end = match.span()
    return " ", [starts[start]], [ends[end - 1]]


def _fix_whitespace(text: str, starts: Offsets, ends: Offsets) -> Rewrite:
    """Step 2: whitespace to one space (same length), controls out, runs collapsed, edges cut."""
    if not text.isprintable():
        text = text.translate(_WHITESPACE_TO_SPACE)
        if not text.isprintable():
            text, starts, ends = _rewrite(text, starts, ends, _CONTROLS.finditer(text), _drop)
    if "  " in text:
        text, starts, ends = _rewrite(text, starts, ends, _SPACES.finditer(text), _one_space)
    if text[:1] == " ":
        text, starts, ends = text[1:], starts[1:], ends[1:]
    if text[-1:] == " ":
        text, starts, ends = text[:-1], starts[:-1], ends[:-1]
    return text, starts, ends


# --- step 3: spaced-out words --------------------------------------------------------------------

_SPACED = re.compile(
    r"(?<![\w$@])[a-z0-9$@](?P<sep>[ ._*~-]|[.*~-] )[a-z0-9$@](?:(?P=sep)[a-z0-9$@])+(?![\w$@])"
)


def _spaced_matches(text: str, classes: str) -> Iterator[re.Match[str]]:
    """Run the step-3 regex only where a cheap substring test found single letters in a row."""
    padded = f".{classes}."
    position = 0
    while True:
        hits = [hit for hit in (padded.find(n, position) for n in _SPACED_NEEDLES) if hit >= 0]
        if not hits:
            return
        # padded[at] is the separator before the letter text[at].
        at = min(hits)
        match = _SPACED.match(text, at)
        if match is None:
            position = at + 1
        else:
            yield match
            position = match.end()


def _join_spaced(match: re.Match[str], starts: Offsets, ends: Offsets) -> Rewrite | None:
    step = 1 + len(match.group("sep"))
    first, last = match.span()
    positions = range(first, last, step)
    letters = "".join(match.string[p] for p in positions)
    if sum(c.isalpha() for c in letters) < 2:
        return None
    new_starts = [starts[p] for p in positions]
    # Each letter also owns the separator after it, so the word maps to every character.
    new_ends = [ends[p + step - 1] for p in positions[:-1]] + [ends[last - 1]]
    return letters, new_starts, new_ends


# --- step 4: leetspeak ---------------------------------------------------------------------------

_LEET = str.maketrans("01345789@$!+", "oieastbgasit")
_LEET_DIGITS = str.maketrans("01345789", "oieastbg")
_UNITS = (
    "st|nd|rd|th|s|k|m|b|bn|am|pm|x|d|g|p|gb|mb|kb|tb|ghz|mhz|hz|mm|cm|km|kg|lb|lbs|ft|mph|kph|"
    "yo|yr|yrs|hr|hrs|h|min|mins|sec|secs|ms|ml|mg|oz|v|w|kw|kwh|mw|c|f|ish|px|pt|em|rem|vh|vw|"
    "fps|mp|hp|dpi|mbps|kbps|nm|mi|yd|sq|gal|qt|ers|ies|er"
)
# Words that contain digits for a reason other than disguise.
_NOT_LEET = re.compile(rf"\$?\d[\d]*(?:{_UNITS})?|[a-z]+\d+|\d+[a-z]|\$\d.*")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_EMAIL_TAIL = re.compile(r"\.[a-z]")


def _fold_leet_token(token: str, text: str, end: int) -> str:
    """Fold one word; repeated until nothing changes, as one fold can enable the next."""
    while (folded := _fold_leet_once(token, text, end)) != token:
        token = folded
    return token


def _fold_leet_once(token: str, text: str, end: int) -> str:
    if _NOT_LEET.fullmatch(token) or (token[0] == "@" and token[1:3].translate(_LEET) != "ss"):
        return token  # a legitimate number or unit, or a mention ("@user", "@jane99")
    folded = token.translate(_LEET_DIGITS)
    if folded.isalnum():
        return folded
    chars = list(folded)
    last = len(token) - 1
    for i, char in enumerate(folded):
        if char in "!+":
            # Only between letters or digits: a trailing "!" is punctuation, "c++" is a name.
            if 0 < i < last and token[i - 1] not in "!+@" and token[i + 1] not in "!+@":
                chars[i] = char.translate(_LEET)
        elif char == "@":
            # A leading "@" reaching here starts "@ss", "@$$" or "@55hole".
            if i == 0 or (i < last and not _EMAIL_TAIL.match(text, end)):
                chars[i] = "a"
        elif char == "$" and not folded[i + 1 : i + 2].isdigit():
            chars[i] = "s"
    return "".join(chars)


def _leet_tokens(classes: str) -> list[tuple[int, int]]:
    """Spans of the words where a letter touches a digit, @, $, ! or + (see _CLASSES)."""
    spans: set[tuple[int, int]] = set()
    for needle in _LEET_NEEDLES:
        at = classes.find(needle)
        while at >= 0:
            start, end = at, at + 2
            while start > 0 and classes[start - 1] in _TOKEN_CLASSES:
                start -= 1
            while end < len(classes) and classes[end] in _TOKEN_CLASSES:
                end += 1
            spans.add((start, end))
            at = classes.find(needle, end)
    return sorted(spans)


def _fold_leet(text: str, classes: str) -> str:
    """Step 4: one character for one character, so the map does not change."""
    urls = [m.span() for m in _URL.finditer(text)] if ("://" in text or "www." in text) else []
    parts: list[str] = []
    position = 0
    for start, end in _leet_tokens(classes):
        # URLs, hashtags, hex colours ("#f5ffa") and escapes ("\\xa0") are not disguised words.
        if text[start - 1 : start] in ("#", "\\") or any(a <= start < b for a, b in urls):
            continue
        token = text[start:end]
        folded = _fold_leet_token(token, text, end)
        if folded != token:
            parts.append(text[position:start])
            parts.append(folded)
            position = end
    if not parts:
        return text
    parts.append(text[position:])
    return "".join(parts)


# --- step 5: repeated letters --------------------------------------------------------------------

_RUN = re.compile(r"([^\W\d_])\1{2,}")

# Insults and profanity people stretch ("fuuuuck"); a squeezed word that spells one of these
# (optionally with a suffix) is squeezed to single letters rather than doubles.
_LEXICON = frozenset(
    """
    fuck fuk fck shit crap damn bitch bastard dick cock cunt twat wanker prick slut whore
    piss pussy ass arse asshole idiot idiots moron stupid dumb dumbass retard retarded loser
    jerk scum trash garbage pathetic ugly fat hate kill die dead shut shutup suck sucks
    liar lying fool foolish clown troll pig pigs rat vermin filth filthy disgusting sick
    nazi nazis racist bigot hypocrite coward ignorant imbecile cretin lunatic freak creep
    nigger nigga faggot fag dyke tranny kike spic chink gook wetback raghead kys stfu gtfo
    wtf lol omg
    """.split()
)
# Words whose triple letter is the word ("www" of a URL, "kkk" the hate group, roman numerals).
_KEEP_REPEATS = frozenset({"www", "kkk", "xxx", "aaa", "iii", "viii", "xiii", "xxiii", "xxxl"})
_SUFFIXES = ("", "s", "es", "er", "ers", "ing", "in", "ed", "y", "ty", "head", "face", "hole")


def _in_lexicon(word: str) -> bool:
    return any(
        word.endswith(suffix) and word[: len(word) - len(suffix)] in _LEXICON
        for suffix in _SUFFIXES
    )


def _run_matches(text: str) -> Iterator[re.Match[str]]:
    """Runs of 3+ same letters; for ASCII, looked for only where _repeats() found three equal."""
    if not text.isascii():
        yield from _RUN.finditer(text)
        return
    equal = _repeats(text)
    position = 2
    while (at := equal.find(0, position)) >= 0:
        # equal[at] == 0: text[at - 2 : at + 1] are one character three times.
        match = _RUN.match(text, at - 2)
        if match is None:
            position = at + 1
        else:
            yield match
            position = match.end() + 2


def _squeeze_run(match: re.Match[str], starts: Offsets, ends: Offsets) -> Rewrite | None:
    text = match.string
    start, end = match.span()
    word_start, word_end = start, end
    while word_start > 0 and text[word_start - 1].isalpha():
        word_start -= 1
    while word_end < len(text) and text[word_end].isalpha():
        word_end += 1
    word = text[word_start:word_end]
    if word in _KEEP_REPEATS:
        return None
    keep = 1 if _in_lexicon(_RUN.sub(r"\1", word)) else 2
    # The last kept letter stands for the whole run.
    new_ends = list(ends[start : start + keep])
    new_ends[-1] = ends[end - 1]
    return match.group(1) * keep, starts[start : start + keep], new_ends


# --- cheap checks that let the common comment skip a step --------------------------------------
# The regex engine pays per position (~10 us for a 200-character comment on this machine), while
# str.translate and `in` run in C at memchr speed, so most comments never reach a regex.

# One class per character: "a" letter, "1" digit or @ $ ! +, "." separator, "#" the rest.
_CLASS_OF = {
    **dict.fromkeys("abcdefghijklmnopqrstuvwxyz", "a"),
    **dict.fromkeys("0123456789@$!+", "1"),
    **dict.fromkeys(" ._*~-", "."),
}
_CLASSES = str.maketrans({chr(i): _CLASS_OF.get(chr(i), "#") for i in range(128)})
# A letter beside a digit, @, $, ! or +.
_LEET_NEEDLES = ("a1", "1a")
_TOKEN_CLASSES = frozenset("a1")
# Two single letters in a row ("f u", "s.t", "f. u"): where a spaced-out word may start.
_SPACED_NEEDLES = (".a.a.", ".a..a.")
# Identity maps are slices of one shared tuple: slicing is far cheaper than tuple(range(n)).
_IDENTITY = tuple(range(20_001))


def _identity(length: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if length < len(_IDENTITY):
        return _IDENTITY[:length], _IDENTITY[1 : length + 1]
    return tuple(range(length)), tuple(range(1, length + 1))


def _classes(text: str) -> str:
    """Character classes (see _CLASSES); other scripts and emoji become "?" first, which keeps
    str.translate on its fast all-ASCII path and the length unchanged."""
    if not text.isascii():
        text = text.encode("ascii", "replace").decode("ascii")
    return text.translate(_CLASSES)


def _may_need_whitespace(text: str) -> bool:
    return "  " in text or not text.isprintable() or text[:1] == " " or text[-1:] == " "


def _may_be_spaced(classes: str) -> bool:
    padded = f".{classes}."
    return any(needle in padded for needle in _SPACED_NEEDLES)


def _may_be_leet(classes: str) -> bool:
    return any(needle in classes for needle in _LEET_NEEDLES)


def _repeats(text: str) -> bytes:
    """For ASCII text: byte i is 0 where text[i - 2], text[i - 1] and text[i] are equal (i >= 2).

    XOR each byte with the one before it (0 marks two equal neighbours), then OR with the
    result shifted by one byte (0 marks two such zeros in a row, so three equal characters).
    Big-int arithmetic does it for the whole text in a few C calls instead of a loop or regex.
    """
    data = text.encode()
    whole = int.from_bytes(data, "big")
    differs = whole ^ (whole >> 8)
    return (differs | (differs >> 8)).to_bytes(len(data), "big")


def _may_repeat(text: str) -> bool:
    """True if some letter may appear 3 times in a row (three non-ASCII letters in a row may be a
    false alarm; a real run is never missed)."""
    # Every non-ASCII character becomes "?" (same length): a run of one letter stays a run.
    equal = _repeats(text if text.isascii() else text.encode("ascii", "replace").decode())
    at = equal.find(0, 2)
    while at >= 0:
        if text[at].isalpha():
            return True
        at = equal.find(0, at + 1)
    return False


# --- the pipeline --------------------------------------------------------------------------------


def normalise(text: str) -> Normalised:
    """Normalise a comment for matching, keeping a map back to offsets in `text`."""
    if text.isascii():
        folded = text.lower()
        if not folded.isprintable():
            folded = folded.translate(_WHITESPACE_TO_SPACE)  # same length: "\n" -> " "
        classes = folded.translate(_CLASSES)
        if not (_may_need_whitespace(folded) or _may_be_spaced(classes) or _may_repeat(folded)):
            # The common case: the length never changes, so the map is the identity.
            if _may_be_leet(classes):
                folded = _fold_leet(folded, classes)
            return Normalised(folded, *_identity(len(folded)))
        starts: Offsets
        ends: Offsets
        starts, ends = _identity(len(folded))
    elif _may_override(text):
        return _in_display_order(text)
    else:
        folded, starts, ends = _fold_unicode(text)

    folded, starts, ends = _fix_whitespace(folded, starts, ends)
    classes = _classes(folded)
    if _may_be_spaced(classes):
        folded, starts, ends = _rewrite(
            folded, starts, ends, _spaced_matches(folded, classes), _join_spaced
        )
        classes = _classes(folded)
    if _may_be_leet(classes):
        folded = _fold_leet(folded, classes)
    if _may_repeat(folded):
        folded, starts, ends = _rewrite(folded, starts, ends, _run_matches(folded), _squeeze_run)
    return Normalised(folded, tuple(starts), tuple(ends))


def normalised_text(text: str) -> str:
    """``normalise(text).text`` without the offset map, for batch scoring, which needs none.

    The same steps in the same order as normalise(); the whitespace step, the one most comments
    need besides leetspeak, is done with str methods, and the others carry no map. Text that is
    not ASCII takes the same path when each of its characters folds to one character
    (typographic quotes, accents, no-break spaces: most non-ASCII comments), since step 1 then
    keeps the identity map; other text goes through normalise(), so the result is always the
    same.
    """
    ascii = text.isascii()
    if ascii:
        folded = text.lower()
    else:
        regular = None if _may_override(text) else _fold_regular(text)
        if regular is None:
            return normalise(text).text
        folded = regular  # after step 1 the only whitespace and controls left are ASCII ones
    if not folded.isprintable():
        folded = folded.translate(_WHITESPACE_TO_SPACE)  # same length: "\n" -> " "
    classes = _classes(folded)
    # normalise() takes this shortcut on ASCII text only (on other text a triple made by leetspeak
    # folding is squeezed: "77té" -> "tte"), so the same holds here.
    if ascii and not (
        _may_need_whitespace(folded) or _may_be_spaced(classes) or _may_repeat(folded)
    ):
        return _fold_leet(folded, classes) if _may_be_leet(classes) else folded
    if not folded.isprintable():
        folded = _CONTROLS.sub("", folded)
    # Only " " is left as whitespace, so split() collapses its runs and drops the edges.
    folded = " ".join(folded.split())
    classes = _classes(folded)
    # Steps 3 and 5 as normalise() runs them, with an identity map that is then thrown away.
    if _may_be_spaced(classes):
        folded = _rewrite(
            folded, *_identity(len(folded)), _spaced_matches(folded, classes), _join_spaced
        )[0]
        classes = _classes(folded)
    if _may_be_leet(classes):
        folded = _fold_leet(folded, classes)
    if _may_repeat(folded):
        folded = _rewrite(folded, *_identity(len(folded)), _run_matches(folded), _squeeze_run)[0]
    return folded
