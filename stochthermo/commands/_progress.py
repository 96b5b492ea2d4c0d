"""Progress of long command-line sections: a tqdm bar on a terminal, timed lines otherwise.

A section reports its stages through :func:`stage` (a no-op when no :class:`Heartbeat` is
running), so section functions keep their signature and stay silent when called directly.
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["Heartbeat", "stage"]

_current: list = []


def stage(message: str) -> None:
    """Tell the running :class:`Heartbeat` (if any) that a new stage of the section began."""
    if _current:
        _current[-1].stage(message)


class Heartbeat:
    """Show that a section is alive while it runs.

    With tqdm installed and stderr a terminal: a bar over the section's stages whose elapsed
    time ticks every second. Otherwise: a line on stderr when a stage begins and a
    ``still running`` line every ``every`` seconds, so that a log never goes quiet for long.

    Parameters
    ----------
    label : str
        Name of the section (``"fig41"``).
    total : int, optional
        Number of stages, for the bar.
    every : float
        Seconds between two ``still running`` lines (no bar).
    stream : file, optional
        Where to write (default: ``sys.stderr`` at entry).
    """

    def __init__(self, label: str, *, total: int | None = None, every: float = 5.0,
                 stream=None):
        self.label = label
        self.total = total
        self.every = float(every)
        self.stream = stream
        self._bar = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stage = ""
        self._t0 = 0.0

    def __repr__(self) -> str:
        return f"Heartbeat(label={self.label!r}, stage={self._stage!r})"

    def __enter__(self):
        self.stream = self.stream or sys.stderr
        self._t0 = time.perf_counter()
        if getattr(self.stream, "isatty", lambda: False)():
            try:
                from tqdm.auto import tqdm

                self._bar = tqdm(total=self.total, desc=self.label, file=self.stream,
                                 unit="stage", leave=False, dynamic_ncols=True)
            except ImportError:
                self._bar = None
        self._thread = threading.Thread(target=self._beat, name="stochthermo-heartbeat",
                                        daemon=True)
        self._thread.start()
        _current.append(self)
        return self

    def __exit__(self, *exc):
        _current.remove(self)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._bar is not None:
            self._bar.close()
        return False

    def stage(self, message: str) -> None:
        """A new stage began: advance the bar, or print one line."""
        if self._bar is not None:
            if self._stage:
                self._bar.update(1)
            self._bar.set_postfix_str(message, refresh=True)
        else:
            dt = time.perf_counter() - self._t0
            print(f"      {self.label}: {message} ({dt:.0f} s)", file=self.stream, flush=True)
        self._stage = message

    def _beat(self):
        period = 1.0 if self._bar is not None else self.every
        while not self._stop.wait(period):
            if self._bar is not None:
                self._bar.refresh()
            else:
                dt = time.perf_counter() - self._t0
                what = f", {self._stage}" if self._stage else ""
                print(f"      {self.label}: still running ({dt:.0f} s{what})",
                      file=self.stream, flush=True)
