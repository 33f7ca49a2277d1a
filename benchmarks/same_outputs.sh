#!/usr/bin/env bash
# Write the outputs that evaluation speed work must not change, for a later `diff -r`:
#   benchmarks/same_outputs.sh OUTDIR DB MRN...
# DB is a database you may write to (the commands record access events): use a copy.
# Example (before and after a change, same copies):
#   benchmarks/same_outputs.sh /tmp/before /tmp/ref-copy.db TOH-000001 TOH-000042
#   benchmarks/same_outputs.sh /tmp/after  /tmp/ref-copy.db TOH-000001 TOH-000042
#   diff -r /tmp/before /tmp/after && echo same
set -euo pipefail
out=$1; db=$2; shift 2
as_of=${AS_OF:-2026-11-26}
mkdir -p "$out"
monitor --db "sqlite:///$db" due --format csv --as-of "$as_of" > "$out/due.csv"
monitor --db "sqlite:///$db" flags --format json --as-of "$as_of" > "$out/flags.json"
for mrn in "$@"; do
  monitor --db "sqlite:///$db" show "$mrn" --as-of "$as_of" > "$out/show-$mrn.txt"
done
