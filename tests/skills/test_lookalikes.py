"""Commands read as meant whatever invisible or look-alike characters chat clients and
copy-paste put in them; free text after the leading words is kept exactly."""

from __future__ import annotations

import pytest

from skills.grammar import normalise_leading, normalise_word

# Characters that stand between words: each must separate `ack` from `INC-4`.
SEPARATORS = {
    "no-break space (Slack, Teams after a mention)": "\u00a0",
    "narrow no-break space (macOS)": "\u202f",
    "figure space": "\u2007",
    "em space": "\u2003",
    "thin space": "\u2009",
    "ideographic space (CJK input)": "\u3000",
    "tab": "\t",
    "space + zero-width space": " \u200b",
    "space + byte-order mark": " \ufeff",
    "space + word joiner": " \u2060",
    "line separator": "\u2028",
}
# Characters inside a word that must not change what it says.
IN_WORDS = {
    "zero-width space": ("ack\u200b", "ack"),
    "zero-width joiner": ("a\u200dck", "ack"),
    "soft hyphen": ("ac\u00adk", "ack"),
    "left-to-right mark": ("\u200eack", "ack"),
    "byte-order mark": ("\ufeffack", "ack"),
    "non-breaking hyphen": ("INC\u20114", "INC-4"),
    "hyphen": ("INC\u20104", "INC-4"),
    "en dash": ("INC\u20134", "INC-4"),
    "em dash": ("INC\u20144", "INC-4"),
    "minus sign": ("INC\u22124", "INC-4"),
    "fullwidth hyphen-minus": ("INC\uff0d4", "INC-4"),
    "small hyphen-minus": ("INC\ufe634", "INC-4"),
    "fullwidth letters and digits": ("ＩＮＣ－４", "INC-4"),
    "fullwidth number sign": ("＃４２", "#42"),
    "autocorrected --all (em dash)": ("\u2014all", "--all"),
    "autocorrected --all (en dash)": ("\u2013all", "--all"),
}

# Zero-width spaces alone between two words, where a space plausibly was (copy-paste keeps
# them, drops the space): each must separate the words around it.
ZERO_WIDTH_SPACES = {
    "zero-width space": "\u200b",
    "word joiner": "\u2060",
    "zero-width no-break space (byte-order mark)": "\ufeff",
    "Mongolian vowel separator": "\u180e",
    "two zero-width spaces": "\u200b\u200b",
}
# Words with invisible characters inside that stay one word: a zero-width space inside an
# id or a word with no id or option beside it, and the characters that only ever stand
# inside words (soft hyphens from hyphenation, joiners of emoji and scripts, direction marks).
STAY_WHOLE = {
    "zero-width space inside an id": ("INC\u200b-4", "INC-4"),
    "zero-width space after a number sign": ("#\u200b42", "#42"),
    "zero-width space between digits": ("INC-4\u200b2", "INC-42"),
    "word joiner inside an option": ("--a\u2060ll", "--all"),
    "zero-width space inside the verb": ("a\u200bck", "ack"),
    "soft hyphen inside the verb": ("ac\u00adk", "ack"),
    "soft hyphen before an id": ("ack\u00adINC-4", "ackINC-4"),
    "zero-width joiner": ("ack\u200dINC-4", "ackINC-4"),
    "zero-width non-joiner": ("ack\u200cINC-4", "ackINC-4"),
    "left-to-right mark": ("ack\u200eINC-4", "ackINC-4"),
}


@pytest.mark.parametrize("unseen", ZERO_WIDTH_SPACES.values(), ids=ZERO_WIDTH_SPACES.keys())
def test_a_zero_width_space_alone_between_two_words_separates_them(unseen: str) -> None:
    assert normalise_leading(f"ack{unseen}INC-4") == "ack INC-4"
    assert normalise_leading(f"ack{unseen}42") == "ack 42"
    assert normalise_leading(f"show{unseen}#4{unseen}--all") == "show #4 --all"
    assert normalise_leading(f"resolve INC-4{unseen}fixed it") == "resolve INC-4 fixed it"
    # in the free text after the leading words, nothing changes
    assert normalise_leading(f"note INC-4 db{unseen}slow") == f"note INC-4 db{unseen}slow"


@pytest.mark.parametrize(("typed", "meant"), STAY_WHOLE.values(), ids=STAY_WHOLE.keys())
def test_invisible_characters_inside_a_word_keep_it_one_word(typed: str, meant: str) -> None:
    assert normalise_leading(f"{typed} rest") == f"{meant} rest"  # the verb
    if not meant.startswith("ack"):  # ids and options are leading words wherever they stand
        assert normalise_leading(f"show {typed} rest") == f"show {meant} rest"


def test_emoji_sequences_in_free_text_are_kept() -> None:
    typed = "note INC-4 on it \U0001f469\u200d\U0001f4bb\u200bback soon"
    assert normalise_leading(typed) == typed


@pytest.mark.parametrize("separator", SEPARATORS.values(), ids=SEPARATORS.keys())
def test_every_unicode_space_separates_the_leading_words(separator: str) -> None:
    assert normalise_leading(f"ack{separator}INC-4") == "ack INC-4"
    assert normalise_leading(f"{separator}show{separator}#4{separator}") == "show #4"


@pytest.mark.parametrize(("typed", "meant"), IN_WORDS.values(), ids=IN_WORDS.keys())
def test_look_alikes_inside_a_word_are_read_as_meant(typed: str, meant: str) -> None:
    assert normalise_word(typed) == meant
    assert normalise_leading(f"{typed} rest") == f"{meant} rest"  # the verb
    if meant != "ack":  # ids and options are leading words wherever they stand
        assert normalise_leading(f"show {typed} rest") == f"show {meant} rest"


def test_free_text_after_the_leading_words_is_kept_exactly() -> None:
    typed = "note INC\u20114\u00a0db — slow\u00a0since 03:00 “again” ｘ\nsecond line"
    assert normalise_leading(typed) == (
        "note INC-4 db — slow\u00a0since 03:00 “again” ｘ\nsecond line"
    )
    assert normalise_leading("resolve 2 replicas restarted") == "resolve 2 replicas restarted"
    assert normalise_leading("note INC-4\nline one") == "note INC-4\nline one"


def test_a_command_of_only_invisible_characters_is_empty() -> None:
    assert normalise_leading("\u200b\u2060 \ufeff") == ""
