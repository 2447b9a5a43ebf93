"""Path templates such as `/repos/{owner}/{repo}/pulls/{pull_number}` matched against paths."""

from __future__ import annotations

import re
from urllib.parse import unquote

import attrs

_PLACEHOLDER = re.compile(r"\{([^}/]+)\}")


@attrs.frozen
class PathTemplate:
    template: str
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, template: str) -> PathTemplate:
        parts = _PLACEHOLDER.split(template)
        # split() alternates literal text and placeholder names.
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
        )
        return cls(template, re.compile(regex))

    def match(self, path: str) -> dict[str, str] | None:
        """The placeholders' values (percent-decoded) if `path` fits, else None."""
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}
