"""Reply → Block Kit stays inside Slack's limits, however long the answer."""

from __future__ import annotations

import json

from bot.slack.render import (
    MAX_BLOCKS,
    MAX_SECTION,
    fallback_text,
    form_modal,
    mrkdwn,
    render_block,
    render_blocks,
    submitted_values,
)
from skills.contract import (
    Actions,
    Button,
    Context,
    Fields,
    Form,
    Image,
    Input,
    Reply,
    Table,
    Text,
)


def test_markdown_subset_becomes_mrkdwn_with_escaping() -> None:
    assert mrkdwn("**INC-1** <script> & [runbook](https://x.example/r?a=1)") == (
        "*INC-1* &lt;script&gt; &amp; <https://x.example/r?a=1|runbook>"
    )
    assert mrkdwn("[evil](javascript:alert(1))") == "[evil](javascript:alert(1))"


def test_long_text_is_split_into_sections_under_3000_characters() -> None:
    text = "\n".join(f"line {n} " + "x" * 90 for n in range(100))
    blocks = render_blocks(Reply(blocks=[Text(text)]))
    assert len(blocks) >= 4
    assert all(len(b["text"]["text"]) <= MAX_SECTION for b in blocks)
    joined = "\n".join(b["text"]["text"] for b in blocks)
    assert joined == text  # nothing lost when lines fit
    huge = render_blocks(Reply(blocks=[Text("y" * 10_000)]))
    assert len(huge[0]["text"]["text"]) == MAX_SECTION and huge[0]["text"]["text"].endswith("…")


def test_more_than_fifty_blocks_end_with_how_many_were_left_out() -> None:
    reply = Reply(blocks=[Context(f"event {n}") for n in range(80)])
    blocks = render_blocks(reply)
    assert len(blocks) == MAX_BLOCKS
    assert blocks[-1]["elements"][0]["text"] == "…and 31 more blocks; ask for less"


def test_fields_are_chunked_by_ten() -> None:
    fields = Fields(tuple((f"L{n}", "v" * 3000) for n in range(23)))
    blocks = render_blocks(Reply(blocks=[fields]))
    sections = [b for b in blocks if "fields" in b]
    assert [len(b["fields"]) for b in sections] == [10, 10, 3]
    assert all(len(f["text"]) <= 2000 for b in sections for f in b["fields"])
    # 69,000 characters do not fit one message: cut, and it says so.
    assert blocks[-1]["elements"][0]["text"] == "… truncated"


def test_tables_are_monospace_and_say_how_many_rows_were_cut() -> None:
    rows = tuple((f"INC-{n}", "critical", "checkout: HighErrorRate") for n in range(300))
    blocks = render_blocks(Reply(blocks=[Table(("ID", "Severity", "Title"), rows)]))
    assert blocks[0]["text"]["text"].startswith("```ID")
    assert len(blocks[0]["text"]["text"]) <= MAX_SECTION
    assert (
        blocks[1]["elements"][0]["text"].startswith("…and ")
        and "more rows" in blocks[1]["elements"][0]["text"]
    )


def test_buttons_carry_the_command_within_limits() -> None:
    buttons = tuple(Button("A" * 100, "show", (f"INC-{n}",), style="primary") for n in range(30))
    [actions] = render_blocks(Reply(blocks=[Actions(buttons)]))
    assert len(actions["elements"]) == 25
    first = actions["elements"][0]
    assert len(first["text"]["text"]) == 75 and first["style"] == "primary"
    assert json.loads(first["value"]) == {"command": "show INC-0"}
    assert len({e["action_id"] for e in actions["elements"]}) == 25
    too_long = Button("Run", "run", ("x" * 3000,))
    assert render_blocks(Reply(blocks=[Actions((too_long,))])) == []


def test_images_are_not_blocks_and_text_always_has_a_fallback() -> None:
    reply = Reply(blocks=[Image(b"\x89PNG", "graph"), Text("**hi**")])
    assert [b["type"] for b in render_blocks(reply)] == ["section"]
    assert fallback_text(reply) == "*hi*"
    assert fallback_text(Reply()) == "Lookout"


def test_wide_tables_are_listed_row_by_row_without_cutting_cells() -> None:
    long = "List open incidents (or all with --all), newest first, for a service or severity."
    table = Table(("Command", "What it does"), (("/lookout incidents [--service S]", long),))
    blocks = render_blocks(Reply(blocks=[table]))
    assert blocks[0]["elements"][0]["text"] == "Command  ·  What it does"
    assert blocks[1]["text"]["text"] == f"*/lookout incidents [--service S]*  {long}"


def test_a_form_is_a_button_whose_modal_has_one_input_per_field() -> None:
    form = Form(
        title="Parameters for a-very-long-runbook-name",
        skill="run",
        args=("a-very-long-runbook-name", "--dry-run"),
        inputs=(
            Input("ticket", "ticket", hint="the change ticket", value="CHG-1"),
            Input("mode", "mode", choices=("fast", "safe"), value="safe", optional=True),
        ),
        submit="Plan",
    )
    [actions] = render_block(form)
    [button] = actions["elements"]
    assert button["action_id"] == "lookout-form:run"
    spec = json.loads(button["value"])["form"]
    modal = form_modal(spec, '{"command": "x"}')
    assert modal["title"]["text"] == "Lookout"  # Slack's titles hold 24 characters
    heading, text, select = modal["blocks"]
    assert heading["text"]["text"] == "*Parameters for a-very-long-runbook-name*"
    assert text["element"] == {
        "type": "plain_text_input",
        "action_id": "value",
        "initial_value": "CHG-1",
    }
    assert text["hint"]["text"] == "the change ticket" and text["optional"] is False
    assert select["element"]["initial_option"]["value"] == "safe" and select["optional"] is True
    view = {
        "state": {
            "values": {
                "field:ticket": {"value": {"type": "plain_text_input", "value": "CHG-9"}},
                "field:mode": {"value": {"type": "static_select", "selected_option": None}},
                "other": {"x": {"type": "plain_text_input", "value": "not ours"}},
            }
        }
    }
    assert submitted_values(view) == {"ticket": "CHG-9"}
