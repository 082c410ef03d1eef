from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textfold import Normalised, normalise, normalised_text


def _original(text: str, normalised_word: str) -> str:
    """The original characters a word of the normalised text was made from."""
    result = normalise(text)
    start = result.text.index(normalised_word)
    begin, end = result.to_original(start, start + len(normalised_word))
    return text[begin:end]


class TestNormaliseUnicode:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("ｆｕｃｋ", "fuck"),  # full-width
            ("𝐬𝐭𝐮𝐩𝐢𝐝", "stupid"),  # mathematical bold
            ("ⓘⓓⓘⓞⓣ", "idiot"),  # circled letters
            ("ﬁne", "fine"),  # ligature
            ("Straße", "strasse"),  # casefold
            ("fück", "fuck"),  # accent on a Latin letter
            ("e\u0301te\u0301", "ete"),  # combining accents
            ("s̷t̷u̷p̷i̷d̷", "stupid"),  # Zalgo-style overlay marks
            ("ΑΘΗΝΑ", "αθηνα"),  # other scripts keep their letters
            ("don’t “quote” — ok", 'don\'t "quote" - ok'),  # typographic punctuation
        ],
    )
    def test_normalise_folds_compatibility_forms_and_case(self, text: str, expected: str) -> None:
        assert normalise(text).text == expected

    def test_normalise_maps_expanded_characters_to_their_source(self) -> None:
        result = normalise("Straße")
        assert result.text == "strasse"
        assert result.to_original(4, 6) == (4, 5)  # "ss" came from "ß"

    def test_normalise_maps_combined_letter_to_base_and_marks(self) -> None:
        assert _original("caf e\u0301 e\u0301te\u0301", "ete") == "e\u0301te\u0301"


class TestNormaliseInvisibleCharacters:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("f\u200bu\u200cc\u200dk", "fuck"),  # zero-width space, non-joiner, joiner
            ("id\u2060iot\ufeff", "idiot"),  # word joiner, byte-order mark
            ("\u202etoidi\u202c", "idiot"),  # right-to-left override: shown as "idiot"
            ("stu\u00adpid", "stupid"),  # soft hyphen
            ("a\x00b\x07c", "abc"),  # NUL and bell
        ],
    )
    def test_normalise_removes_zero_width_and_control_characters(
        self, text: str, expected: str
    ) -> None:
        assert normalise(text).text == expected

    def test_normalise_keeps_hidden_characters_inside_the_word_span(self) -> None:
        assert _original("you f\u200bu\u200bc\u200bk", "fuck") == "f\u200bu\u200bc\u200bk"


class TestNormaliseBidiControls:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("nice \u202etoidi uoy\u202c article", "nice you idiot article"),  # RLO ... PDF
            ("\u202ekcuf", "fuck"),  # an override left open runs to the text's end
            ("a \u202eb \u202dcd\u202c e\u202c f", "a e cd b f"),  # LRO nested in RLO
            ("\u202etoidi\nuoy", "idiot uoy"),  # a paragraph ends it
            ("\u202e\u2066you\u2069 toidi\u202c", "idiot you"),  # an isolate suspends it
            ("you \u202bidiot\u202c", "you idiot"),  # an embedding alone reorders no letters
            ("you\u200e \u200fidiot\u061c \u2067x\u2069", "you idiot x"),  # marks, isolates
            ("שלום \u202aworld\u202c", "שלום world"),  # right-to-left script: logical order
        ],
    )
    def test_normalise_reads_bidi_overrides_in_display_order(
        self, text: str, expected: str
    ) -> None:
        assert (normalise(text).text, normalised_text(text)) == (expected, expected)

    def test_normalise_maps_reversed_word_to_its_original_characters(self) -> None:
        text = "nice \u202etoidi uoy\u202c article"
        assert (_original(text, "idiot"), _original(text, "you")) == ("toidi", "uoy")

    @given(st.text(alphabet="ab \u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2069\n", max_size=30))
    def test_normalise_reordered_text_is_idempotent_with_a_map_inside_it(self, text: str) -> None:
        result = normalise(text)
        spans = [result.to_original(i, i + 1) for i in range(len(result.text))]
        assert (normalise(result.text).text, normalised_text(text)) == (result.text, result.text)
        assert all(0 <= start < end <= len(text) for start, end in spans)


class TestNormaliseWhitespace:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("ab\ncd\tef", "ab cd ef"),
            ("ab \r\n\t cd", "ab cd"),
            ("  padded  ", "padded"),
            ("no\u00a0break\u2003em\u2028line", "no break em line"),
            ("one   two", "one two"),
            ("", ""),
            (" \n\t ", ""),
        ],
    )
    def test_normalise_collapses_whitespace(self, text: str, expected: str) -> None:
        assert normalise(text).text == expected

    def test_normalise_maps_collapsed_space_to_the_whole_run(self) -> None:
        result = normalise("a \n\t b")
        assert result.to_original(1, 2) == (1, 5)


class TestNormaliseRepeatedLetters:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("fuuuuuck", "fuck"),  # insult lexicon: down to single letters
            ("stuuuupiddd", "stupid"),
            ("idiooooot", "idiot"),
            ("FUUUUCKING", "fucking"),  # lexicon word plus suffix
            ("loooooser", "loser"),
            ("asssss", "ass"),  # the lexicon word has a double letter itself
            ("goooood", "good"),  # other words: down to two, keeping English doubles
            ("hellllo", "hello"),
            ("soooo", "soo"),
            ("good", "good"),  # two is left alone
            ("1000000", "1000000"),  # digits are not letters
            ("www.kkk.com", "www.kkk.com"),  # words that are a triple letter
            ("chapter viii", "chapter viii"),
            ("wait...", "wait..."),
        ],
    )
    def test_normalise_squeezes_runs_of_a_letter(self, text: str, expected: str) -> None:
        assert normalise(text).text == expected

    def test_normalise_maps_squeezed_word_to_every_original_letter(self) -> None:
        assert _original("you fuuuuuck", "fuck") == "fuuuuuck"
        assert _original("noooo way", "noo") == "noooo"


class TestNormaliseLeetspeak:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("1d10t", "idiot"),
            ("sh!t", "shit"),
            ("@ss", "ass"),
            ("$tupid", "stupid"),
            ("b1tch", "bitch"),
            ("a$$hole", "asshole"),
            ("l0s3r", "loser"),
            ("b@st@rd", "bastard"),
            ("k!ll y0urs3lf", "kill yourself"),
        ],
    )
    def test_normalise_folds_leetspeak_inside_words(self, text: str, expected: str) -> None:
        assert normalise(text).text == expected

    @pytest.mark.parametrize(
        "text",
        [
            "in 2017 it cost 10 dollars",  # plain numbers
            "$5 or $100",  # money
            "the 2nd time in the 1990s at 10pm on 5g",  # ordinals and units
            "covid19 and mp3 files",  # letters then digits
            "wow! great!",  # exclamation at the end of a word
            "c++ and a+",  # plus at the edge
            "@user thanks",  # a mention
            "write to john@example.com",  # an e-mail address
            "see https://example.com/a1b2c3 now",  # a URL
            "@jane99 and #votes505 and #f5ffa",  # mentions, hashtags, colours
            r"a literal \xa0 escape",  # escapes some sources keep as text
            "the 49ers, 1px borders, 9mm",  # more units
        ],
    )
    def test_normalise_leaves_numbers_and_names_alone(self, text: str) -> None:
        assert normalise(text).text == text.lower()

    def test_normalise_leet_keeps_the_map_one_to_one(self) -> None:
        result = normalise("you 1d10t")
        assert result.to_original(4, 9) == (4, 9)


class TestNormaliseSpacedLetters:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("f u c k you", "fuck you"),
            ("s.t.u.p.i.d", "stupid"),
            ("f-u-c-k off", "fuck off"),
            ("F. U. C. K.", "fuck."),
            ("f_u_c_k", "fuck"),
            ("f*u*c*k", "fuck"),
            ("you are s t u p 1 d", "you are stupid"),  # leet inside a spaced word
            ("f  u  c  k", "fuck"),  # whitespace collapsed first
        ],
    )
    def test_normalise_joins_spaced_out_letters(self, text: str, expected: str) -> None:
        assert normalise(text).text == expected

    @pytest.mark.parametrize(
        "text",
        [
            "1 2 3 go",  # numbers, not letters
            "plan a b",  # only two single letters
            "x-ray and e-mail",
            "u.s. and e.g.",
        ],
    )
    def test_normalise_does_not_join_short_or_numeric_runs(self, text: str) -> None:
        assert normalise(text).text == text

    def test_normalise_maps_joined_word_to_all_its_characters(self) -> None:
        text = "well f u c k you"
        assert _original(text, "fuck") == "f u c k"
        assert _original("s.t.u.p.i.d.", "stupid") == "s.t.u.p.i.d"


class TestNormalisedToOriginal:
    def test_to_original_rejects_an_empty_span(self) -> None:
        with pytest.raises(ValueError, match="not inside"):
            normalise("abc").to_original(1, 1)

    def test_to_original_rejects_a_span_past_the_end(self) -> None:
        with pytest.raises(ValueError, match="not inside"):
            normalise("abc").to_original(0, 4)

    def test_normalised_is_immutable(self) -> None:
        result = normalise("abc")
        with pytest.raises(AttributeError):
            result.text = "x"  # type: ignore[misc]


# Text rich in what normalise rewrites: separators, leet characters, repeats, odd Unicode.
_TRICKY = st.text(
    alphabet=st.one_of(
        st.sampled_from("aabcfikstu uuu 0134578@$!+.-_*~ \n\t\x00"),
        st.sampled_from("\u200b\u202e\u00ad\ufeff\u0301\u0336\u00df\u0130ﬁｆ𝐬ⓘ\u2028\u00a0é👍🏽"),
        st.characters(),
    ),
    max_size=60,
)


# A noisy 2-core machine: no per-example deadline, no "too slow" health check.
_PATIENT = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_map(text: str, result: Normalised) -> None:
    assert len(result.starts) == len(result.ends) == len(result.text)
    # In order, except where a bidi override put characters in display order.
    assert result.reordered or all(
        a <= b for a, b in zip(result.starts, result.starts[1:], strict=False)
    )
    assert all(0 <= s < e <= len(text) for s, e in zip(result.starts, result.ends, strict=True))


class TestNormaliseProperties:
    @settings(_PATIENT, max_examples=500)
    @given(_TRICKY)
    def test_normalise_map_is_well_formed(self, text: str) -> None:
        _check_map(text, normalise(text))

    @settings(_PATIENT, max_examples=500)
    @given(_TRICKY)
    def test_normalise_is_idempotent(self, text: str) -> None:
        once = normalise(text).text
        assert normalise(once).text == once

    @settings(_PATIENT, max_examples=300)
    @given(st.text(max_size=80))
    def test_normalise_never_raises_on_any_text(self, text: str) -> None:
        _check_map(text, normalise(text))

    @pytest.mark.parametrize(
        "text",
        [
            "\ud800 lone surrogate \udfff",
            "emoji 👍🏽👨\u200d👩\u200d👧 end",
            "\u202eevil override",
            "nul\x00inside",
            "\u0301 leading mark",
            "",
        ],
    )
    def test_normalise_handles_hostile_text(self, text: str) -> None:
        _check_map(text, normalise(text))


# ASCII text in every state the map-free path must reproduce: whitespace runs and edges, controls,
# leetspeak that makes a triple only after folding, spaced-out words, stretched insults.
_ASCII_TRICKY = st.text(
    alphabet=st.sampled_from("aabcfikstu uuu 01345778@$!+.-_*~  \n\t\r\x00\x01\x0b\x1c\x7fGT"),
    max_size=60,
)


# The same with the non-ASCII characters comments carry most (each folds to one character, so the
# map-free path takes them too): no-break space, curly quotes, dashes, accents, bullets, CJK, emoji.
_REGULAR_UNICODE_TRICKY = st.text(
    alphabet=st.sampled_from(
        "aabcfikstu uuu 01345778@$!+.-_*~  \n\t\x00\x1cGT\u00a0\u2019\u201c\u2014éćü•謝😂Ｆ"
    ),
    max_size=60,
)


class TestNormalisedText:
    @settings(_PATIENT, max_examples=1000)
    @given(_ASCII_TRICKY)
    def test_normalised_text_equals_normalise_on_ascii(self, text: str) -> None:
        assert normalised_text(text) == normalise(text).text

    @settings(_PATIENT, max_examples=1000)
    @given(_REGULAR_UNICODE_TRICKY)
    def test_normalised_text_equals_normalise_on_common_unicode(self, text: str) -> None:
        assert normalised_text(text) == normalise(text).text

    @settings(_PATIENT, max_examples=300)
    @given(_TRICKY)
    def test_normalised_text_equals_normalise_on_any_text(self, text: str) -> None:
        assert normalised_text(text) == normalise(text).text

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("  Hello \n\n World  ", "hello world"),
            ("the T1000GB  fibers", "the tioogb fibers"),
            ("you  f u c k", "you fuck"),
            ("so  stuuuupid", "so stupid"),
            ("nul\x00 inside\x01", "nul inside"),
            ("Curly don\u2019t  \u00e9t\u00e9", "curly don't ete"),
            (
                "\u00a0You\u2019re  a  \uff26\u00fcck1ng\u00a0\u00a0idi0t \u2022",
                "you're a fucking idiot \u2022",
            ),
            ("caf\u00e9 s t u p i d\u2019", "cafe stupid'"),
            ("77T\u00e9", "tte"),
        ],
    )
    def test_normalised_text_known_cases(self, text: str, expected: str) -> None:
        assert normalised_text(text) == expected
        assert normalise(text).text == expected
