"""The operations thesaurus: how terms match text, what a synonyms file may hold, and how
the lexical index uses concepts (found by any term, scored once per query word)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, LookoutConfig
from bot.knowledge_setup import thesaurus_for
from bot.settings import Settings
from knowledge.lexical import LexicalIndex, query_slots
from knowledge.synonyms import SHIPPED, SynonymsError, Thesaurus, same_meaning, words


def _concepts(thesaurus: Thesaurus, text: str) -> set[str]:
    return {concept for concept, _, _ in thesaurus.concepts(words(text))}


def test_terms_match_across_word_endings_identifiers_and_phrases() -> None:
    thesaurus = Thesaurus()
    thesaurus.add(["certificate", "cert", "tls"])
    thesaurus.add(["crash loop", "crashloopbackoff", "keeps restarting"])
    thesaurus.add(["expire", "lapse"])
    assert _concepts(thesaurus, "the certs lapsed") == {"~certif", "~expir"}
    assert _concepts(thesaurus, "TLSCertificateExpiringSoon") == {"~certif", "~expir"}
    # A term of several words matches the run of words, and the whole identifier matches
    # a one-word term written as one word.
    assert _concepts(thesaurus, "pod keeps restarting") == {"~crash_loop"}
    assert _concepts(thesaurus, "CrashLoopBackOff") == {"~crash_loop"}
    assert _concepts(thesaurus, "crash-loop") == {"~crash_loop"}
    assert _concepts(thesaurus, "a loop that crashes") == set()
    found = thesaurus.concepts(words("the pod keeps restarting"))
    assert found == [("~crash_loop", 2, 3)]  # words counted from 0, the span inclusive
    # Groups stay apart when their first terms share a stem.
    thesaurus.add(["replica", "standby"])
    thesaurus.add(["replicas", "instances"])
    assert len(_concepts(thesaurus, "standby instances")) == 2


def test_the_shipped_file_loads_and_knows_everyday_words() -> None:
    thesaurus = Thesaurus.load()
    assert len(thesaurus) >= 100
    assert _concepts(thesaurus, "RAM") & _concepts(thesaurus, "HighMemoryUsage")
    assert _concepts(thesaurus, "k8s") & _concepts(thesaurus, "kubernetes")
    assert _concepts(thesaurus, "people cannot sign on") & _concepts(thesaurus, "login failing")


def test_what_two_texts_say_in_different_words() -> None:
    thesaurus = Thesaurus()
    thesaurus.add(["redis", "kv store", "kv"])
    thesaurus.add(["replica", "standby"])
    thesaurus.add(["database", "db"])
    pairs = same_meaning(
        thesaurus, "the KV store and the db standby", "redis-cache: replica of the database"
    )
    # The longest way ours says it; a concept both word alike is no news.
    assert pairs == [("KV store", "redis"), ("db", "database"), ("standby", "replica")]
    assert same_meaning(thesaurus, "database replica", "replica database") == []
    # Sharing a word is no news ("db standby" and "standby"); the text as typed is kept,
    # full-width letters read as ASCII.
    thesaurus.add(["unauthorized", "can't log in", "401"])
    assert same_meaning(thesaurus, "we can't log in", "HTTP 401") == [("can't log in", "401")]
    assert same_meaning(thesaurus, "ｋｖ ｓｔｏｒｅ full", "redis") == [("kv store", "redis")]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("memory, ram\nlonely\n", "synonyms.txt:2: a group needs two different terms or more"),
        ("memory, ram\nram, rams, ,\n", "synonyms.txt:2: a group needs two different terms"),
        ("# fine\nram => memory\n", "synonyms.txt:2: only equivalence lines"),
        (b"memory, ram\n\xff\xfe, heap", "synonyms.txt:2: not UTF-8 text"),
    ],
)
def test_a_bad_file_names_its_line(tmp_path: Path, text: str | bytes, error: str) -> None:
    path = tmp_path / "synonyms.txt"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(SynonymsError, match=re.escape(error)):
        Thesaurus.load([path])


def test_a_team_adds_its_own_words_in_the_config(tmp_path: Path) -> None:
    (tmp_path / "ours.txt").write_text("# nicknames\nledger-svc, the books, bookkeeping\n")
    config_file = tmp_path / "lookout.yaml"
    config_file.write_text("knowledge: {synonyms: [ours.txt]}\n")
    settings = Settings(config=config_file, data_dir=tmp_path)
    config = LookoutConfig.model_validate({"knowledge": {"synonyms": "ours.txt"}})
    assert config.knowledge.synonyms == [Path("ours.txt")]  # one file needs no list
    thesaurus = thesaurus_for(settings, config)
    assert _concepts(thesaurus, "the books are wrong") == _concepts(thesaurus, "ledger-svc")
    assert len(thesaurus) == len(Thesaurus.load([SHIPPED])) + 1
    missing = LookoutConfig.model_validate({"knowledge": {"synonyms": ["nowhere.txt"]}})
    with pytest.raises(
        ConfigError, match=r"cannot read synonyms file .*: No such file or directory$"
    ):
        thesaurus_for(settings, missing)


def test_a_synonym_finds_a_document_and_the_exact_word_ranks_first() -> None:
    index = LexicalIndex()
    index.put("incident:1", "incident", "cart: HighMemoryUsage, pods at 95% of their limit")
    index.put("incident:2", "incident", "reporting: nightly RAM report is late")
    index.put("incident:3", "incident", "checkout: TLS certificate expires in 3 days")
    index.rebuild()
    # "RAM" matches the memory incident through the thesaurus, but the incident that says
    # RAM itself ranks first; each covers the whole query.
    hits = index.search("RAM", limit=5)
    assert [h.doc_id for h in hits] == ["incident:2", "incident:1"]
    assert all(h.coverage == 1.0 for h in hits)
    # Word endings: "certs lapsing" finds "certificate expires".
    assert index.search("certs lapsing", limit=5)[0].doc_id == "incident:3"


def test_a_query_word_counts_once_however_many_forms_it_has() -> None:
    thesaurus = Thesaurus()
    thesaurus.add(["memory", "ram", "heap"])
    thesaurus.add(["memory leak", "leak"])
    slots = query_slots("memory leaks", thesaurus)
    assert slots == [
        ("memory", "memori", "~memori", "~memori_leak"),
        ("leaks", "leak", "~memori_leak"),
    ]

    def scores(with_words: Thesaurus) -> dict[str, float]:
        index = LexicalIndex(thesaurus=with_words)
        for doc_id, text in (("a", "memory memory heap ram"), ("b", "memory"), ("c", "disk")):
            index.put(doc_id, "incident", text)
        index.rebuild()
        return {h.doc_id: h.score for h in index.search("memory", limit=5)}

    # One query word, one slot: the document with more synonyms of it does not win by
    # counting each of them; BM25's term frequency (memory twice) still does.
    by_id, plain = scores(thesaurus), scores(Thesaurus())
    assert set(by_id) == set(plain) == {"a", "b"}
    assert by_id["a"] > by_id["b"]
    assert by_id["a"] / by_id["b"] < 2 * plain["a"] / plain["b"]


def test_a_misspelt_word_finds_the_word_meant() -> None:
    """A query word no document uses, of five letters or more, matches the documents'
    words one edit away (two from eight letters; a transposition is one); shorter or
    farther words match nothing."""
    index = LexicalIndex(thesaurus=Thesaurus())
    index.put("incident:1", "incident", "orders-db: PostgresReplicationLag, replica behind")
    index.put("incident:2", "incident", "cart: HighMemoryUsage on the cart pods")
    index.rebuild()
    assert [h.doc_id for h in index.search("the replca is behnd", limit=5)] == ["incident:1"]
    assert [h.doc_id for h in index.search("postgers", limit=5)] == ["incident:1"]
    assert index.search("memroy", limit=5)[0].doc_id == "incident:2"
    assert index.search("crt", limit=5) == []  # too short to guess
    assert index.search("replyxyz", limit=5) == []  # too far from anything
