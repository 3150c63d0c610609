"""One unit of work per `flask --app wsgi …` command, the CLI's counterpart of the pages' `refuse()`.

A command either keeps all of its writes or none: committed once at the end, rolled back on a refusal
(reported on stderr, exit status 1, no traceback: the operator gave bad input) or on any other error
(which propagates: a bug should show its traceback).  The commands used to pair `session.commit()` with
hand-written `session.rollback()` calls, each a little differently (issue 13 §4).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from survey.extensions import db


def _message(exc: BaseException) -> Iterable[str]:
    return [f"error: {exc}"]


@contextmanager
def command_writes(*refusals: type[Exception],
                   report: Callable[[BaseException], Iterable[str]] = _message) -> Iterator[Session]:
    """Yield the session; commit when the block ends normally, else roll back.

    An exception of a `refusals` type is reported line by line with `report` and ends the command with
    status 1; anything else (including SystemExit raised by the block) rolls back and propagates.
    """
    session = db.session
    try:
        yield session
    except refusals as exc:
        session.rollback()
        for line in report(exc):
            click.echo(line, err=True)
        sys.exit(1)
    except BaseException:
        session.rollback()
        raise
    session.commit()
