"""Sorted runs spooled to an unnamed temporary file, merged back in key order.

A list too large to hold (every patient's due line, every flag) is produced in chunks; each
chunk's items, sorted by key, are one run written to disk in small pickled batches; `merged()`
reads the runs back a batch at a time (heapq.merge), so memory holds one batch per run,
whatever the list's length. Items with equal keys keep their run's order, and earlier runs come
first. The file is owner-only and has no name (it vanishes when closed or when the process dies).
"""

from __future__ import annotations

import heapq
import os
import pickle
import tempfile
from operator import itemgetter

BATCH_ITEMS = 2000


class RunSpool:
    """Sorted runs of `(key, payload)` pairs; `merged()` yields them in key order."""

    def __init__(self, *, batch_items: int = BATCH_ITEMS):
        self._file = tempfile.TemporaryFile()
        self._end = 0
        self._runs: list[list[tuple[int, int]]] = []  # per run: (offset, length) of its batches
        self._batch_items = batch_items
        self.count = 0

    def add_run(self, items) -> None:
        """Spool one run: `(key, payload)` pairs already sorted by key (an empty run is skipped)."""
        batches, batch = [], []
        for item in items:
            batch.append(item)
            if len(batch) == self._batch_items:
                batches.append(self._write(batch))
                batch = []
        if batch:
            batches.append(self._write(batch))
        if batches:
            self._runs.append(batches)

    def _write(self, batch: list) -> tuple[int, int]:
        data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.write(data)
        place = (self._end, len(data))
        self._end += len(data)
        self.count += len(batch)
        return place

    def _read(self, batches: list[tuple[int, int]]):
        fd = self._file.fileno()
        for offset, length in batches:
            yield from pickle.loads(os.pread(fd, length, offset))

    def merged(self):
        """Every `(key, payload)` pair in key order (stable: a run's order, then the runs' order)."""
        self._file.flush()
        if len(self._runs) == 1:
            return self._read(self._runs[0])
        return heapq.merge(*(self._read(run) for run in self._runs), key=itemgetter(0))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "RunSpool":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
