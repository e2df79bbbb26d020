"""The generated demo corpus (being written; see issue 2)."""

DEMO_PATH = "data/demo"
