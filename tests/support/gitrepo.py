"""The real local git origin, shared with the demo (tickborg/demo/origin.py)."""

from tickborg.demo.origin import Origin, git

__all__ = ["Origin", "git"]
