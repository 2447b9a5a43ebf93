"""The mass-rebuilder: evaluate a pull request (merge it, see what it touches,
label it) and schedule its builds (SPEC §5, §8)."""
