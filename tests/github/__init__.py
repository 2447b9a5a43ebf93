"""GitHub integration tests. A package, so its conftest does not take the module name
`conftest` from tests/conftest.py, which other test directories import from."""
