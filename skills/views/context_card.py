"""An incident's context as chat blocks: `correlate`'s answer, `show`'s stored copy and the
message posted unasked in a new incident's thread (see `skills.incident_context`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.incidents import display_id
from core.wording import plural
from skills.contract import Block, Context, Image, Reply, Text
from skills.dependency_text import finding_text
from skills.evidence_text import movement_text
from skills.formatting import clock_time
from skills.markup import literal
from skills.moments import in_utc, instants
from skills.views.sparkline import sparkline_png


def snapshot_blocks(
    snapshot: dict[str, Any], *, stored: bool = False, unasked: bool = False
) -> list[Block]:
    """The snapshot as chat blocks (`correlate` answers with them; `show` repeats them;
    `unasked`: the copy posted in a new incident's thread without anyone asking)."""
    ref = display_id(int(snapshot["incident"]))
    confidence = snapshot["confidence"]
    factors = " · ".join(f"{k} {v:.2f}" for k, v in confidence["factors"].items())
    head = f"🔎 **What changed around {ref}?**" if unasked else f"**Context of {ref}**"
    if confidence.get("leading"):
        head += f" — most likely: {confidence['leading']}"
    blocks: list[Block] = [
        Text(head),
        Context(f"Confidence {confidence['score']:.2f} ({factors})"),
    ]
    changes = snapshot.get("changes") or []
    if changes:
        lines = []
        for item in changes:
            change = item["change"]
            what = " ".join(
                part for part in (", ".join(change["services"]), change.get("version")) if part
            )
            by = f" by {change['author']}" if change.get("author") else ""
            lines.append(
                f"• {what} {change['kind']}{by}, {round(item['minutes_before'])} min before "
                f"— score {item['score']:.2f} ({item['relation']} service)"
            )
        blocks.append(Text("**Changes**\n" + "\n".join(lines)))
    else:
        blocks.append(Text("**Changes**\nNo change recorded in the 2 h before the first alert."))
    metrics = snapshot.get("metrics") or []
    if metrics:
        lines = [
            f"• {item['service']}: {movement_text(item)}"
            + (f", moved at {item['moved_at'][11:19]}" if item.get("moved_at") else "")
            for item in metrics
        ]
        blocks.append(Text("**Metrics that moved**\n" + "\n".join(lines)))
    blocks += _root_cause_blocks(snapshot)
    blocks += _dependency_blocks(snapshot)
    patterns = snapshot.get("logs") or []
    if patterns:
        lines = [
            f"• {p['count']}× `{p['template'][:120]}` (first {p['first_seen'][11:19]})"
            for p in patterns
        ]
        blocks.append(Text("**Error-log patterns**\n" + "\n".join(lines)))
    similar = snapshot.get("similar") or []
    if similar:
        lines = [
            f"• {s['incident']} {s['title']} — "
            + (
                f"{float(s['similarity']):.0%} alike"
                if "similarity" in s
                else f"score {float(s['score']):.2f}"  # stored before similarity was kept
            )
            + (f"; fixed by: {s['resolution']}" if s.get("resolution") else "")
            for s in similar
        ]
        blocks.append(Text("**Similar past incidents**\n" + "\n".join(lines)))
    for problem in snapshot.get("problems") or []:
        blocks.append(Context(problem))
    taken = snapshot["taken_at"][11:19]
    if unasked:
        ending = "; `correlate` takes a new one, with charts."
    else:
        ending = "; `correlate` takes a new one." if stored else "; `show` repeats it."
    what = "Stored snapshot" if stored else "Snapshot"
    if unasked:
        what = "Gathered by Lookout when the incident opened; snapshot"
    blocks.append(Context(f"{what} taken at {taken} UTC{ending}"))
    return blocks


def context_message(snapshot: dict[str, Any]) -> Reply:
    """The context posted unasked in a new incident's thread."""
    incident_id = int(snapshot["incident"])
    return Reply(blocks=snapshot_blocks(snapshot, unasked=True), incident_id=incident_id)


def _root_cause_blocks(snapshot: dict[str, Any]) -> list[Block]:
    """The root-cause ranking with the metric evidence added, and a line when it disagrees
    with the incident message's 🎯 line (which the alerts alone give)."""
    causes = snapshot.get("root_causes") or []
    if causes:
        taken = datetime.fromisoformat(snapshot["taken_at"])
        with_metrics = any(cause.get("metrics") for cause in causes)
        title = "Probable root cause, alerts and metrics" if with_metrics else "Probable root cause"
        lines = [
            f"• {literal(cause['service'])} — {round(float(cause['confidence']) * 100)} % ("
            + instants(literal("; ".join(cause["factors"])), taken)
            + ")"
            for cause in causes[:3]
        ]
        blocks: list[Block] = [Text(f"**{title}**\n" + "\n".join(lines))]
        stored, top = snapshot.get("stored_cause"), causes[0]["service"]
        if with_metrics and stored and stored != top:
            blocks.append(
                Context(
                    f"The incident message names {literal(stored)} from its alerts alone; "
                    f"with the metrics, {literal(top)} ranks first."
                )
            )
        return blocks
    # A snapshot stored before the ranking merged alerts and metrics lists the metrics' own.
    candidates = snapshot.get("candidates") or []
    if not candidates:
        return []
    lines = [
        f"• {c['service']} — evidence {c['score']:.1f} ({c['series']})"
        + (f", explained by {c['explained_by']}" if c.get("explained_by") else "")
        for c in candidates
    ]
    return [Text("**Root-cause candidates from metrics**\n" + "\n".join(lines))]


def _dependency_blocks(snapshot: dict[str, Any]) -> list[Block]:
    """The calls of the incident's services that moved against the hour before; one line
    saying they did not when none did."""
    records = snapshot.get("dependencies")
    if records is None:  # a snapshot from before dependency health, or no service graph
        return []
    unhealthy = [r for r in records if r["status"] != "healthy"]
    if unhealthy:
        marks = {"failing": "🔴", "degraded": "🟠"}
        lines = [f"• {marks.get(r['status'], '⚪')} {finding_text(r)}" for r in unhealthy]
        return [Text("**Dependency health**\n" + "\n".join(lines))]
    seen = int(snapshot.get("calls_seen") or len(records))
    if not seen:
        return []
    noun = "call" if seen == 1 else "calls"
    return [
        Text(
            f"**Dependency health**\nThe {seen} {noun} of "
            f"{', '.join(snapshot.get('services') or [])} look as they did the hour before."
        )
    ]


def context_chart(snapshot: dict[str, Any]) -> Image | None:
    metrics = snapshot.get("metrics") or []
    if not metrics:
        return None
    series = [
        (f"{m['service']} {m['signal']}", [(float(t), float(v)) for t, v in m["points"]])
        for m in metrics[:3]
    ]
    start = datetime.fromisoformat(snapshot["start"])
    taken = datetime.fromisoformat(snapshot.get("taken_at") or snapshot["start"])
    png = sparkline_png(series, title="moved at the start", marker=start)
    return Image(
        png=png,
        alt=f"{plural(len(series), 'signal')} around {in_utc(clock_time(start, taken))}",
    )
