"""Time the rendering of one patient's PNG chart inside one process (imports excluded).

Usage: python benchmarks/render.py DB_URL MRN AS_OF  -> prints the median seconds of 5 renders.
"""

import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from monitor.config import Config
from monitor.reports.patient import write_patient_png
from monitor.services.exports import patient_report
from monitor.store import make_engine

url, mrn, as_of = sys.argv[1], sys.argv[2], date.fromisoformat(sys.argv[3])
engine = make_engine(url)
times = []
with tempfile.TemporaryDirectory() as folder:
    for n in range(6):
        start = time.perf_counter()
        report = patient_report(engine, mrn, as_of=as_of, config=Config())
        write_patient_png(report, Path(folder) / "chart.png")
        if n:  # the first render warms matplotlib's font cache
            times.append(time.perf_counter() - start)
print(f"{statistics.median(times):.3f}")
