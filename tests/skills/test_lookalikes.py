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
