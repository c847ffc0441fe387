"""Case studies: each is a config dataclass plus a `run` function."""
