# Order matters: a plugin must be registered before another one imports it.
pytest_plugins = [
    "tests.fixtures.smtp",
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.identity",
]
