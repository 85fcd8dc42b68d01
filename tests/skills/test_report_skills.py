"""Reports through the real dispatcher: the weekly incident report, schedules, and what
`slo` and `capacity` say when there is nothing to report on; report rendering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core.capacity import forecast
from skills.catalog import default_registry
from skills.commands.capacity import parse_growth
from skills.context import SkillTools
from skills.contract import Actions, Button, Context, Fields, Image, Reply, Role, Table, Text
from skills.dispatcher import AccessPolicy, Dispatcher
from skills.moments import in_utc
from skills.reply_codec import decode, encode
from skills.scheduling import ScheduledJob
from skills.views.report_charts import render_budget_png, render_capacity_png
from tests.skills.conftest import NOW, Harness, make_alert, text_of


def table_rows(reply: Reply, first_column: str) -> dict[str, tuple[str, ...]]:
    for block in reply.blocks:
        if isinstance(block, Table) and block.columns[0] == first_column:
            return {row[0]: tuple(in_utc(cell) for cell in row) for row in block.rows}
    raise AssertionError(f"no table starting with {first_column!r}")


async def test_weekly_incident_report_against_last_week(harness: Harness) -> None:
    harness.clock.now = NOW - timedelta(days=9)
    await harness.ingestor.ingest([make_alert("DiskFull", "postgres", "critical", -9 * 1440)])
    harness.clock.advance(minutes=20)
    await harness.say("ack INC-1")
    harness.clock.now = NOW - timedelta(days=2)
    await harness.ingestor.ingest(
        [
            make_alert("HighErrorRate", "checkout", "critical", -2 * 1440),
            make_alert("HighLatency", "checkout", "warning", -2 * 1440 + 1),
            make_alert("HighLatency", "checkout", "warning", -2 * 1440 + 2, pod="b"),
        ]
    )
    harness.clock.advance(minutes=5)
    await harness.say("ack INC-2")
    harness.clock.advance(minutes=25)
    await harness.say("resolve INC-2")
    await harness.ingestor.ingest([make_alert("Bounce", "mailer", "warning", -2 * 1440 + 300)])
    harness.clock.now = NOW
    reply = await harness.say("stats report")
    assert reply.visibility == "channel"
    assert "Weekly incident report" in text_of(reply)
    rows = table_rows(reply, "")
    assert rows["Incidents"][1:] == ("2", "1", "+100 %")
    assert rows["Alerts"][1:] == ("4", "1", "+300 %")
    assert rows["Alerts per incident"][1:3] == ("2.0", "1.0")
    assert rows["MTTA p50"][1:] == ("5 min", "20 min", "-75 %")
    assert rows["MTTR p50"][1:3] == ("30 min", "—")
    noisy = table_rows(reply, "Noisiest alerts")
    assert list(noisy) == ["HighLatency", "Bounce", "HighErrorRate"]
    assert noisy["HighLatency"] == ("HighLatency", "checkout", "2")
    services = table_rows(reply, "Noisiest services")
    assert services["checkout"] == ("checkout", "1", "3")
    # `stats` itself is unchanged.
    assert "Incident response, last 30 days" in text_of(await harness.say("stats"))


class Book:
    async def jobs(self) -> list[ScheduledJob]:
        return [
            ScheduledJob(
                "report:x",
                "slo report",
                "cron 0 9 * * mon,tue,wed,thu,fri (Europe/Berlin)",
                "#sre",
                datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
                datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
                "ok",
            ),
            ScheduledJob("slo:burn-rates", "SLO burn-rate rules", "every 1 min", None, None),
        ]


async def test_schedules_lists_jobs_with_their_next_run(harness: Harness) -> None:
    assert "not running" in text_of(await harness.say("schedules"))
    dispatcher = Dispatcher(
        registry=default_registry(),
        database=harness.database,
        access=AccessPolicy(default_role=Role.VIEWER),
        clock=harness.clock,
        tools=SkillTools(schedules=Book()),
    )
    harness.dispatcher = dispatcher
    reply = await harness.say("schedules")
    rows = table_rows(reply, "What")
    assert rows["slo report"] == (
        "slo report",
        "cron 0 9 * * mon,tue,wed,thu,fri (Europe/Berlin)",
        "#sre",
        "24 Nov 08:00 UTC",
        "23 Nov 08:00 UTC (ok)",
    )
    assert rows["SLO burn-rate rules"][3] == "paused"


async def test_slo_and_capacity_without_configuration_say_how(harness: Harness) -> None:
    slo = text_of(await harness.say("slo"))
    assert slo.startswith("No SLOs are configured") and "slo: {files:" in slo
    capacity = text_of(await harness.say("capacity report"))
    assert capacity.startswith("No resources are configured")
    bad = text_of(await harness.say("capacity db --growth fast"))
    assert "growth looks like `2%/d`" in bad and "Usage: `capacity" in bad


def test_growth_rates() -> None:
    assert parse_growth("2%/d") == pytest.approx(0.02)
    assert parse_growth(" 0.5 % / day") == pytest.approx(0.005)
    assert (1 + parse_growth("10%/w")) ** 7 == pytest.approx(1.10)
    with pytest.raises(ValueError):
        parse_growth("2%")
    with pytest.raises(ValueError):
        parse_growth("-100%/d")


def test_a_reply_survives_storage() -> None:
    reply = Reply(
        blocks=[
            Text("**SLO report**"),
            Fields((("Burn 1h", "20.00×"),)),
            Table(("SLO", "SLI"), (("checkout", "99.9 %"),)),
            Image(b"\x89PNG\r\n", "chart"),
            Actions((Button("Ack", "ack", ("INC-1",), "primary"),)),
            Context("footnote"),
        ],
        visibility="channel",
    )
    assert decode(encode(reply)) == reply


def test_report_charts_are_png_and_repeatable() -> None:
    times = [1.7e9 + i * 3600 for i in range(100)]
    remaining: list[float | None] = [None, *[1 - i / 120 for i in range(99)]]
    budget = render_budget_png(times, remaining, title="checkout")
    assert budget.startswith(b"\x89PNG") and budget == render_budget_png(
        times, remaining, title="checkout"
    )
    usage = [50 + i * 0.1 for i in range(100)]
    result = forecast(np.array(times), np.array(usage), horizon=10 * 86400)
    chart = render_capacity_png(
        times, usage, result, limit=100, levels=[0.8, 0.9, 1.0], title="db-1 disk"
    )
    assert chart.startswith(b"\x89PNG") and len(chart) > 10_000


async def test_an_unreachable_prometheus_is_one_sentence(harness: Harness) -> None:
    import httpx
    import yaml

    from core.capacity_rules import CapacityResource, CapacityRules
    from core.slo import SlothSpec, slos_of
    from integrations.capacity import CapacityReader
    from integrations.prometheus import PrometheusClient
    from integrations.slo import SloReader
    from tests.conftest import FIXTURES, free_port

    spec = SlothSpec.parse(
        yaml.safe_load((FIXTURES / "sloth" / "01_getting-started_availability.yml").read_text())
    )
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(f"http://127.0.0.1:{free_port()}", http, timeout=2)
        rules = CapacityRules(resources=[CapacityResource(name="db-1 disk", usage="x", limit=1)])
        harness.dispatcher = Dispatcher(
            registry=default_registry(),
            database=harness.database,
            access=AccessPolicy(default_role=Role.VIEWER),
            clock=harness.clock,
            tools=SkillTools(
                slo=SloReader(client, slos_of(spec)), capacity=CapacityReader(client, rules)
            ),
        )
        slo = await harness.say("slo myservice")
        capacity = await harness.say("capacity")
        unknown = await harness.say("slo billing")
    assert text_of(slo) == "Prometheus is not answering right now, so there are no SLO readings."
    assert text_of(capacity) == (
        "Prometheus is not answering right now, so there are no capacity forecasts."
    )
    assert text_of(unknown) == "No SLOs for `billing`; SLOs exist for `myservice`."
