"""Teams: times as Adaptive Card DATE/TIME functions (each reader's device formats them, the
date shown when not from today), and a command answered in the incident card's thread leaves a
line with a deep link where it was typed. Real botbuilder over HTTP, fake Microsoft clouds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from bot.teams.render import card_markdown
from skills.moments import when
from tests.bot.slack.test_times_and_pointers import payload
from tests.bot.teams.conftest import CHANNEL, TeamsWorld
from tests.bot.teams.test_adapter import in_thread, introduce


async def test_show_in_another_thread_answers_in_the_card_thread_and_links_to_it(
    teams: TeamsWorld,
) -> None:
    old = (datetime.now(UTC) - timedelta(days=9)).replace(
        hour=15, minute=53, second=43, microsecond=0
    )
    await teams.start()
    await introduce(teams)
    await teams.alert(payload("checkout", old))
    await teams.flush()
    (card,) = teams.connector.delivered("post")
    assert card.answered_id is not None
    iso = old.strftime("%Y-%m-%dT%H:%M:%SZ")
    dated = f"{{{{DATE({iso}, SHORT)}}}} {{{{TIME({iso})}}}}"
    assert any(dated in text for text in card.texts), card.texts
    assert not any("15:53:43 UTC" in text for text in card.texts)

    mention = teams.activity(
        "01_channel_message_at_mention.json", text="<at>My Combined</at> show INC-1"
    )
    assert (await teams.send(mention)).status_code == 200
    (answer,) = teams.connector.delivered("post")[1:]
    assert answer.conversation_id == in_thread(card.answered_id)
    assert any(dated in text for text in answer.texts)
    (pointer,) = [r for r in teams.connector.delivered("reply") if "Answered in" in str(r.body)]
    link = (
        f"https://teams.microsoft.com/l/message/{quote(CHANNEL, safe='')}/{answer.answered_id}"
        f"?parentMessageId={card.answered_id}"
    )
    assert link in str(pointer.body), pointer.body


async def test_an_alert_from_another_year_carries_its_date(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    # Another year than now's; a start in the future would be taken as the receive time.
    await teams.alert(payload("checkout", datetime(2021, 1, 1, tzinfo=UTC)))
    await teams.flush()
    (card,) = teams.connector.delivered("post")
    shown = "\n".join(card.texts)
    assert "{{DATE(2021-01-01T00:00:00Z, SHORT)}} {{TIME(2021-01-01T00:00:00Z)}}" in shown
    assert "00:00:00 UTC" not in shown


def test_a_time_from_today_is_a_time_and_any_other_a_date_and_time() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    today = card_markdown(f"at {when(datetime(2026, 11, 30, 9, 5, tzinfo=UTC), now)}")
    assert today == "at {{TIME(2026-11-30T09:05:00Z)}}"
    other = card_markdown(f"at {when(datetime(2026, 11, 21, 9, 5, tzinfo=UTC), now)}")
    assert other == "at {{DATE(2026-11-21T09:05:00Z, SHORT)}} {{TIME(2026-11-21T09:05:00Z)}}"
