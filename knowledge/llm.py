"""The optional LLM: any OpenAI-compatible chat endpoint (`OPENAI_BASE_URL`, `OPENAI_API_KEY`,
`LOOKOUT_LLM_MODEL`) writes an answer from evidence Lookout chose, citing it.

What comes back is checked, not trusted: citations that point at no evidence are removed,
commands it proposes are only shown (Lookout never runs anything an LLM writes; a cited
runbook is how a fix is run, with its approvals), and a call that takes longer than the
timeout (20 s by default) or fails gives a reason instead of an answer.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Task = Literal["explain", "ask"]
_CITATION = re.compile(r"\[([^\[\]\n]{1,120})\](?!\()")
_CONFIDENCE = re.compile(r"^\W*confidence\W*\s*(low|medium|high)\b.*$", re.I | re.M)
_FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)
_INLINE = re.compile(r"`([^`\n]+)`")
_PROGRAMS = (
    "sudo ",
    "kubectl ",
    "systemctl ",
    "rm ",
    "psql ",
    "patronictl ",
    "curl ",
    "docker ",
    "helm ",
    "redis-cli ",
    "ssh ",
    "bash ",
    "sh -c",
    "service ",
    "kill ",
    "pkill ",
    "$ ",
)

SYSTEM_PROMPT = """You are Lookout, an assistant for on-call site reliability engineers.
Answer ONLY from the evidence given. Each piece of evidence has an id in square brackets.
Every sentence that states a fact or a hypothesis must cite the evidence it rests on, with
the ids exactly as given, e.g. [INC-231] or [runbook:restart-service]. Do not cite anything
else. If the evidence does not support an answer, say "Not enough evidence" and what is
missing. Keep it under 150 words. You cannot run commands and must never say you did; to
propose a fix, name the runbook that does it. End with one line: "Confidence: low",
"Confidence: medium" or "Confidence: high"."""


class LLMError(RuntimeError):
    """The LLM did not answer usefully (timeout, error, empty); the message says why."""


@dataclass(frozen=True)
class Evidence:
    """One thing the LLM may cite: `citation` is the id it must use (without brackets)."""

    citation: str
    title: str
    text: str


@dataclass(frozen=True)
class WrittenAnswer:
    text: str  # citations checked, confidence line taken out
    confidence: str | None
    cited: tuple[str, ...]
    removed_citations: tuple[str, ...] = ()
    commands: tuple[str, ...] = field(default_factory=tuple)  # shown, never run
    model: str = ""


def prompt(task: Task, question: str, evidence: Sequence[Evidence]) -> str:
    lines = ["Evidence:"]
    for item in evidence:
        lines.append(f"[{item.citation}] {item.title}\n{item.text.strip()[:1200]}")
    verb = (
        "Write a short hypothesis of what is happening and what fixed it before"
        if task == "explain"
        else "Answer the question"
    )
    return "\n\n".join(["\n\n".join(lines), f"{verb}:\n{question.strip()}"])


def check_citations(text: str, allowed: Sequence[str]) -> tuple[str, list[str], list[str]]:
    """(text with only allowed citations, the ones kept, the ones removed). Matching ignores
    case and spaces; a bracket citing several ids keeps the valid ones."""
    canonical = {_key(citation): citation for citation in allowed}
    kept: list[str] = []
    removed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        parts = [p.strip() for p in re.split(r"[,;]", match.group(1)) if p.strip()]
        good = []
        for part in parts:
            found = canonical.get(_key(part))
            if found is None:
                removed.append(part)
            else:
                good.append(found)
                kept.append(found)
        return "[" + ", ".join(good) + "]" if good else ""

    cleaned = _CITATION.sub(replace, text)
    if removed:  # "as in [INC-1] and [INC-999]." must not end "as in [INC-1] and."
        cleaned = re.sub(r"[ \t]+(?:and|or)(?=[ \t]*(?:[.,;:)]|$))", "", cleaned, flags=re.M)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    return cleaned.strip(), list(dict.fromkeys(kept)), list(dict.fromkeys(removed))


def find_commands(text: str) -> list[str]:
    """Shell commands an answer proposes (in code or at a line's start)."""
    found: list[str] = []
    candidates = [block.strip() for block in _FENCE.findall(text)]
    candidates += _INLINE.findall(text)
    candidates += [line.strip() for line in text.splitlines()]
    for candidate in candidates:
        for line in candidate.splitlines():
            stripped = line.strip()
            if stripped.lower().startswith(_PROGRAMS) and stripped not in found:
                found.append(stripped)
    return found


def _key(citation: str) -> str:
    return re.sub(r"\s+", "", citation).lower()


class LLMClient:
    """Chat completions through the `openai` SDK against any compatible server."""

    def __init__(
        self, *, model: str, base_url: str | None, api_key: str | None, timeout: float = 20.0
    ) -> None:
        from openai import AsyncOpenAI

        self.model = model
        self.timeout = timeout
        # No SDK retries: a slow model must not hold an answer for several timeouts.
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=0
        )

    async def write(
        self, *, task: Task, question: str, evidence: Sequence[Evidence]
    ) -> WrittenAnswer:
        """The model's answer, checked; raises LLMError (timeout, HTTP error, empty)."""
        import openai

        try:
            async with asyncio.timeout(self.timeout):
                response = await self._client.chat.completions.create(
                    model=self.model,
                    temperature=0,
                    messages=[
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": prompt(task, question, evidence)},
                    ],
                )
        except (TimeoutError, openai.APITimeoutError):
            raise LLMError(f"the LLM did not answer within {self.timeout:g} s") from None
        except openai.APIStatusError as error:
            raise LLMError(f"the LLM server answered HTTP {error.status_code}") from None
        except openai.OpenAIError as error:
            raise LLMError(f"the LLM could not be reached ({type(error).__name__})") from None
        content = (response.choices[0].message.content or "") if response.choices else ""
        if not content.strip():
            raise LLMError("the LLM answered nothing")
        return self.check(content, evidence)

    def check(self, content: str, evidence: Sequence[Evidence]) -> WrittenAnswer:
        confidence_match = _CONFIDENCE.search(content)
        confidence = confidence_match.group(1).lower() if confidence_match else None
        body = _CONFIDENCE.sub("", content).strip()
        text, cited, removed = check_citations(body, [e.citation for e in evidence])
        return WrittenAnswer(
            text=text,
            confidence=confidence,
            cited=tuple(cited),
            removed_citations=tuple(removed),
            commands=tuple(find_commands(text)),
            model=self.model,
        )

    async def close(self) -> None:
        await self._client.close()
