"""Work `singlepot up` does on a thread of its own while it waits for something else (the demo
while the services join their consumer groups, the demo's web users while its steps go)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class InBackground(Generic[T]):
    """Runs `action` on a thread of its own from now; `result()` waits for it and returns what
    it returned or raises what it raised. A daemon thread: a Ctrl-C or a failure elsewhere
    stops `up` without waiting for it."""

    def __init__(self, action: Callable[[], T]) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(action,), daemon=True)
        self._thread.start()

    def _run(self, action: Callable[[], T]) -> None:
        try:
            self._value = action()
        except BaseException as error:  # handed to whoever asks for the result
            self._error = error

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return cast(T, self._value)
