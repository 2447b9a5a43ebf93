"""Where the shared spec material lives: the repository's sibling `shared/`."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = (REPO / ".." / "shared").resolve()
WIRE = SHARED / "spec" / "wire"
WEBHOOKS = SHARED / "fixtures" / "github" / "webhooks"
OPENAPI = SHARED / "fixtures" / "github" / "openapi-subset.json"
