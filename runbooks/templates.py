"""`{{placeholder}}` templates inside one string: parse, check, render in a single pass.

A template is always one string of the runbook (one argv element, one URL, one header value),
and rendering never splits or joins strings, so a value can never become a new argv element.
Rendering is one pass: a value that itself contains `{{x}}` stays literal text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import quote

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\s*\}\}")
# Names a template may use besides the runbook's own parameters.
VARIABLES_PREFIX = "vars."
BUILTIN_NOW = "now"
UNTIL_SUFFIX = ".until"


class TemplateError(ValueError):
    """A template that cannot be rendered: a name nobody provides, or a stray brace."""


def placeholders(template: str) -> list[str]:
    """The names used in `template`; raises on a `{{` or `}}` that is not a placeholder."""
    stripped = PLACEHOLDER.sub("", template)
    if "{{" in stripped or "}}" in stripped:
        raise TemplateError(f"malformed placeholder in {template!r}: use {{{{name}}}}")
    return [match.group(1) for match in PLACEHOLDER.finditer(template)]


def has_placeholder(template: str) -> bool:
    return PLACEHOLDER.search(template) is not None


def render(template: str, values: Mapping[str, str], escape: Callable[[str], str]) -> str:
    """Replace each placeholder with `escape(value)`; `vars.*` values are the operator's own
    configuration and are inserted as they are (they may be whole base URLs)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise TemplateError(f"nothing provides {{{{{name}}}}}")
        value = values[name]
        return value if name.startswith(VARIABLES_PREFIX) else escape(value)

    return PLACEHOLDER.sub(replace, template)


def as_is(value: str) -> str:
    return value


def url_component(value: str) -> str:
    """A parameter inside a URL stays data: `/`, `?`, `#`, `@` and `:` are percent-encoded, so
    it cannot add a path segment, a query, credentials or another host."""
    return quote(value, safe="")


def promql_string(value: str) -> str:
    """Inside a PromQL double-quoted label value: escape what would end the string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
