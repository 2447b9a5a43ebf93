"""How far an attempt's log file is written: the collector's record, kept beside it."""

from __future__ import annotations

import json
from typing import Any

import attrs


@attrs.frozen
class Progress:
    # Lines 1..lines are in the log file, taking its first `size` bytes; bytes
    # past `size` are a write cut short (a full disk) and are cut off.
    lines: int = 0
    size: int = 0
    # Inclusive ranges of lines not in their place: written as empty lines
    # when the build ended without them, or skipped by a line after the result.
    holes: tuple[tuple[int, int], ...] = ()
    # The build's result arrived: a line still missing goes to the end, marked.
    sealed: bool = False
    # Lines so marked: the log has this many more lines than `lines`.
    late: int = 0
    # The result came while lines before parked ones were missing: when it is stored anyway.
    result_due: float | None = None

    def is_hole(self, number: int) -> bool:
        return any(first <= number <= last for first, last in self.holes)

    def without_hole(self, number: int) -> Progress:
        holes: list[tuple[int, int]] = []
        for first, last in self.holes:
            if first <= number <= last:
                holes.extend(r for r in ((first, number - 1), (number + 1, last)) if r[0] <= r[1])
            else:
                holes.append((first, last))
        return attrs.evolve(self, holes=tuple(holes))

    def to_bytes(self) -> bytes:
        return json.dumps(attrs.asdict(self)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Progress:
        value: dict[str, Any] = json.loads(data)
        holes = tuple((int(first), int(last)) for first, last in value["holes"])
        # `late` and `result_due` are absent from the files of earlier versions.
        due = value.get("result_due")
        return cls(
            int(value["lines"]), int(value["size"]), holes, bool(value["sealed"]), int(value.get("late", 0)),
            None if due is None else float(due),
        )

    @classmethod
    def of_log(cls, log: bytes, sealed: bool) -> Progress:
        """Rebuilt from the log alone: its complete lines (holes are not known any more)."""
        size = log.rfind(b"\n") + 1
        return cls(log.count(b"\n", 0, size), size, sealed=sealed)

    @property
    def finished(self) -> bool:
        """Nothing left to record: the log alone says all there is (`of_log` gives this back)."""
        return self.sealed and not self.holes and not self.late
