"""The floor: read every row of every cohort table of a SQLite database into Python, nothing more.

No evaluation can be cheaper than reading its input; the benchmark divides by this time.
Usage: python benchmarks/floor.py monitor.db
"""

import sqlite3
import sys

TABLES = ("patient", "episode", "dxa_measurement", "mri_study", "pregnancy", "symptom", "assessment", "treatment")

conn = sqlite3.connect(sys.argv[1])
rows = 0
for table in TABLES:
    rows += len(conn.execute(f"SELECT * FROM {table}").fetchall())
print(rows)
