"""Errors a user can act on: each problem names the file and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where, what, and how to fix it."""

    where: str
    what: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.what}"
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text


class FilmscoreError(Exception):
    """An error caused by input or configuration, reported without a traceback.

    Carries every problem found, so a user fixes them in one pass.
    """

    def __init__(self, problems: list[Problem] | Problem | str, headline: str | None = None):
        if isinstance(problems, str):
            problems = [Problem("filmscore", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        self.headline = headline or (
            f"{len(self.problems)} problem(s) found" if len(self.problems) != 1 else "1 problem found"
        )
        super().__init__(self.render())

    def __reduce__(self):
        # Subclasses have their own __init__ signatures; rebuild from the problems so
        # the error survives pickling across process pools and Dask workers.
        return (_restore, (self.__class__, self.problems, self.headline, dict(self.__dict__)))

    def render(self) -> str:
        lines = [self.headline + ":"]
        lines += ["  - " + str(p).replace("\n", "\n  ") for p in self.problems]
        return "\n".join(lines)


def _restore(cls, problems, headline, state):
    err = cls.__new__(cls)
    FilmscoreError.__init__(err, problems, headline)
    err.__dict__.update(state)
    return err


class MediaError(FilmscoreError):
    """A media file is missing, unreadable or not what its name says."""

    def __init__(self, path: str | Path, what: str, fix: str = ""):
        super().__init__([Problem(str(path), what, fix)], headline="cannot read media")
        self.path = str(path)


class ParamsError(FilmscoreError):
    """params.yaml (or a `-S` override) does not match the schema."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems, headline="invalid parameters")
