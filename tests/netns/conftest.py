from lab import lab  # noqa: F401  (the fixture)
