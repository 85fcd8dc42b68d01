"""Messages have a size: a reply shortened to a platform's bound, saying where the rest is.

Every platform refuses or mangles messages past some size (Slack: 50 blocks of at most 3,000
characters; Teams: about 28 KB of card; the console holds itself to the same bound as Slack).
`fit` keeps a reply within a character budget per block and in total, cutting long texts and
tables rather than dropping blocks, and adds one visible line, "truncated — …", naming where
everything is (the reply's `more`, e.g. "`show INC-4` for everything").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from skills.contract import Actions, Block, Context, Fields, Form, Image, Reply, Table, Text
from skills.markup import cut


@dataclass(frozen=True)
class Bound:
    """A platform's limits, in characters of markdown: per text block (a renderer may still
    split a block into several of its own, as Slack's sections), per field value, and over the
    whole reply; `table_rows` caps a table, `images` whether pictures fit at all."""

    block: int = 12_000
    field: int = 1900
    total: int = 12_000
    table_rows: int = 50
    images: bool = True


SLACK = Bound()
CONSOLE = Bound()


def fit(reply: Reply, bound: Bound) -> Reply:
    """`reply` within `bound`; the same object when it already fits."""
    budget = bound.total
    blocks: list[Block] = []
    cut_any = False
    tables_cut = False
    pointer = f" — {reply.more}" if reply.more else ""
    for block in reply.blocks:
        shortened, size = _fit_block(block, bound, budget)
        if isinstance(block, Table) and isinstance(shortened, Table) and shortened is not block:
            hidden = len(block.rows) - len(shortened.rows)
            blocks += [shortened, Context(f"…and {hidden} more row{'s' * (hidden > 1)}{pointer}")]
            budget -= size
            tables_cut = True
            continue
        if shortened is not block:
            cut_any = True
        if shortened is None:
            continue
        blocks.append(shortened)
        budget -= size
    if not cut_any:
        return replace(reply, blocks=blocks) if tables_cut else reply
    note = f"… truncated{pointer}"
    # The note goes before the buttons, so they stay last where people look for them.
    at = len(blocks)
    while at and isinstance(blocks[at - 1], Actions | Form):
        at -= 1
    blocks.insert(at, Context(note))
    return replace(reply, blocks=blocks)


def _fit_block(block: Block, bound: Bound, budget: int) -> tuple[Block | None, int]:
    """The block as it fits the remaining `budget`, and the characters it takes; None when
    nothing of it fits."""
    if isinstance(block, Text | Context):
        limit = min(bound.block, budget)
        if limit <= 0:
            return None, 0
        if len(block.text) <= limit:
            return block, len(block.text)
        text = cut(block.text, limit)
        return (Text(text) if isinstance(block, Text) else Context(text)), len(text)
    if isinstance(block, Fields):
        share = max(budget // max(len(block.fields), 1) - 100, 40)
        fields = tuple(
            (cut(label, 100), cut(value, min(bound.field, share))) for label, value in block.fields
        )
        size = sum(len(label) + len(value) for label, value in fields)
        if size > budget:
            return None, 0
        return (block if fields == block.fields else Fields(fields)), size
    if isinstance(block, Table):
        return _fit_table(block, bound, budget)
    if isinstance(block, Image):
        return (block, 0) if bound.images else (None, 0)
    return block, 0


def _fit_table(table: Table, bound: Bound, budget: int) -> tuple[Block | None, int]:
    cell = max(bound.field // max(len(table.columns), 1), 20)
    rows: list[tuple[str, ...]] = []
    used = sum(len(column) for column in table.columns)
    for row in table.rows[: bound.table_rows]:
        cells = tuple(cut(value, cell) for value in row)
        size = sum(len(value) for value in cells) + len(cells)
        if used + size > min(budget, bound.block * 4):
            break
        rows.append(cells)
        used += size
    if not rows and table.rows:
        return None, 0
    if len(rows) == len(table.rows) and tuple(rows) == table.rows:
        return table, used
    return Table(table.columns, tuple(rows)), used


def compact(reply: Reply, reason: str) -> Reply:
    """A small stand-in for a reply a platform refused for good: its first line, its first
    fields, a note saying why the full message is not shown, and its buttons."""
    blocks: list[Block] = []
    first_text = next((b for b in reply.blocks if isinstance(b, Text)), None)
    if first_text is not None:
        blocks.append(Text(cut(first_text.text.split("\n", 1)[0], 300)))
    fields = next((b for b in reply.blocks if isinstance(b, Fields)), None)
    if fields is not None:
        blocks.append(Fields(tuple((cut(k, 60), cut(v, 120)) for k, v in fields.fields[:6])))
    pointer = f"; {reply.more}" if reply.more else ""
    blocks.append(Context(f"The full message could not be shown ({cut(reason, 200)}){pointer}."))
    blocks += [b for b in reply.blocks if isinstance(b, Actions | Form)]
    return replace(reply, blocks=blocks)
