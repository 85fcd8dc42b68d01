from core.wording import plural


def test_plural_takes_the_number_of_its_noun() -> None:
    assert plural(1, "hop") == "1 hop"
    assert plural(2, "hop") == "2 hops"
    assert plural(0, "open incident") == "0 open incidents"
    assert plural(1, "open incident") == "1 open incident"
    assert plural(3, "match", "matches") == "3 matches"
    assert plural(1204, "alert") == "1,204 alerts"
    assert plural(1.5, "day") == "1.5 days"
    assert plural(1.0, "day") == "1 day"
