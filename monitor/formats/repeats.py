"""Repeated records within one import: an exact repeat is one record, the same key with other
values an error that names both places (in one file or sheet, or across the files of an import)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitor.formats.csv_cells import ParsedFile
from monitor.formats.import_spec import SPECS, KindSpec


def _key_columns(spec: KindSpec) -> list[str]:
    return ["mrn"] + [k for k in spec.key if k != "mrn"]


def dedupe(parsed: ParsedFile, spec: KindSpec) -> None:
    """Identical repeated rows are one row; the same key with other values is an error."""
    frame = parsed.frame
    ok = frame.loc[~frame["line"].isin(parsed.bad_lines)]
    key = [k for k in _key_columns(spec) if k in ok]
    if not len(ok):
        return
    dup = ok[key].duplicated(keep=False).to_numpy()  # missing values equal each other, as "" did
    if not dup.any():
        return
    keyed = ok[key].astype("object").where(ok[key].notna(), "")
    values = [c for c in parsed.present if c not in key]
    seen: dict[tuple, tuple[int, tuple]] = {}
    for i in np.flatnonzero(dup):
        k = tuple(str(v) for v in keyed.iloc[i])
        vals = tuple(str(ok[c].iloc[i]) for c in values)
        line = int(ok["line"].iloc[i])
        if k not in seen:
            seen[k] = (line, vals)
        elif vals != seen[k][1]:
            parsed.reject(line, "", f"same record ({', '.join(key)}) as line {seen[k][0]} but with "
                                    "other values; keep one")
        else:
            parsed.repeat_lines.add(line)  # an exact repeat is the same record: stored once


def dedupe_across(parsed: list[ParsedFile]) -> None:
    """Within one import the files of one kind are one set of records: a row repeated exactly in a
    later file is the same record (stored once); the same key with other values is an error that
    names both places. Values are compared on the columns both files have."""
    by_kind: dict[str, list[ParsedFile]] = {}
    for p in parsed:
        by_kind.setdefault(p.kind, []).append(p)
    for kind, files in by_kind.items():
        if len(files) < 2:
            continue
        key = _key_columns(SPECS[kind])
        keyed, oks = [], [p.frame.loc[~p.frame["line"].isin(p.bad_lines | p.repeat_lines)] for p in files]
        for n, ok in enumerate(oks):
            parts = [ok[k].astype("object").where(ok[k].notna(), "").astype("str") if k in ok
                     else pd.Series("", index=ok.index) for k in key]
            text_key = parts[0].str.cat(parts[1:], sep="\x1f") if len(parts) > 1 else parts[0]
            keyed.append(pd.DataFrame({"key": text_key.to_numpy(), "file": n, "row": np.arange(len(ok)),
                                       "line": ok["line"].to_numpy()}))
        every = pd.concat(keyed, ignore_index=True)
        every = every.loc[every["key"].duplicated(keep=False)]
        first: dict[str, tuple[int, int, int]] = {}
        for k, n, row, line in every.itertuples(index=False):
            if k not in first:
                first[k] = (n, row, line)
                continue
            n0, row0, line0 = first[k]
            p0, p = files[n0], files[n]
            a, b = oks[n0].iloc[row0], oks[n].iloc[row]
            shared = [c for c in p.present if c in p0.present and c not in key]
            if [str(a[c]) for c in shared] == [str(b[c]) for c in shared]:
                p.repeat_lines.add(int(line))
            else:
                p.reject(int(line), "", f"same record ({', '.join(key)}) as {p0.label} line {line0} but "
                                        "with other values; keep one")
