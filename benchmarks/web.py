"""Web workspace server time on a large cohort: `python benchmarks/web.py [--patients 100000]`.

Makes a cohort with `monitor synth`, imports it, runs the nightly job (reminders), then asks the
app in-process (ASGI test client) for the worklist, a search, and patient pages, and prints the
server time each took (the app's Server-Timing header): the first worklist (the cohort is
evaluated and cached), then warm requests, then the first request after a reminder is recorded
(reminder states recomputed; the cohort kept) and that patient's page again (its report kept), the
review list (first, then other pages), and after a clinician acknowledges a flag from it (the cohort
and the review list patched for that patient). Last, the app process's peak RSS (the evaluation
workers' own memory is not in it)."""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

MONITOR = Path(sys.executable).with_name("monitor")
AS_OF = date(2026, 11, 20)


def server_ms(response) -> float:
    return float(re.search(r"dur=([\d.]+)", response.headers["server-timing"]).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--folder", type=Path, help="reuse this folder's monitor.db if there is one")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="web-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "monitor.db"
    url = f"sqlite:///{db}"
    if not db.exists():
        run = lambda *a: subprocess.run([str(MONITOR), "--db", url, *a], check=True, cwd=folder)  # noqa: E731
        run("synth", "--patients", str(args.patients), "--seed", "1", "--end", AS_OF.isoformat(), "-o", "cohort")
        run("init")
        run("import", *sorted(str(p) for p in (folder / "cohort").glob("*.csv")))
        run("run", "nightly", "--as-of", AS_OF.isoformat())

    from fastapi.testclient import TestClient

    from monitor.config import Config
    from monitor.services.accounts import add_account, list_accounts
    from monitor.store import make_engine
    from monitor.web.app import WebSettings, create_app

    engine = make_engine(url)
    if "bench" not in {a.username for a in list_accounts(engine)}:
        add_account(engine, "bench", role="clinician", password="benchmark password", actor="bench",
                    now=datetime.now(timezone.utc))
    client = TestClient(create_app(engine, Config(), settings=WebSettings(as_of=AS_OF, failure_delay_s=0)))
    page = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/sign-in", data={"username": "bench", "password": "benchmark password", "csrf_token": token},
                follow_redirects=False)
    started = time.perf_counter()
    first = client.get("/worklist")
    print(f"worklist, first (evaluates {args.patients} patients and caches): {server_ms(first):.0f} ms "
          f"(wall {time.perf_counter() - started:.1f} s)")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', first.text).group(1)
    mrns = re.findall(r'href="/patients/([^"#]+)"', first.text)[:10]
    results = {"worklist": [server_ms(client.get("/worklist")) for _ in range(10)],
               "worklist search": [server_ms(client.post("/worklist", data={"csrf_token": csrf, "q": q}))
                                   for q in ("weber", "1970-04-14", "toh-0000", "anna", "x")],
               "patient page": [server_ms(client.get(f"/patients/{m}")) for m in mrns]}
    patient = client.get(f"/patients/{mrns[0]}").text
    reminder_id = re.search(r'name="reminder_id" value="(\d+)"', patient).group(1)
    client.post(f"/patients/{mrns[0]}/reminder", data={"csrf_token": csrf, "reminder_id": reminder_id,
                                                       "action": "outreach:contacted", "note": "bench"})
    results["worklist after an outreach"] = [server_ms(client.get("/worklist"))]
    results["the patient page again after the outreach (its report kept)"] = [
        server_ms(client.get(f"/patients/{mrns[0]}"))]
    first_review = client.get("/review")
    results["review, first (every waiting flag fingerprinted)"] = [server_ms(first_review)]
    results["review, next pages"] = [server_ms(client.get(f"/review?page={n}")) for n in (2, 3, 4, 5, 1)]
    review = first_review.text
    flag = re.search(r'action="/patients/([^"]+)/acknowledge">\s*<input type="hidden" name="csrf_token" value="[^"]+">'
                     r'\s*<input type="hidden" name="code" value="([^"]+)"', review)
    if flag:
        client.post(f"/patients/{flag.group(1)}/acknowledge", data={"csrf_token": csrf, "code": flag.group(2),
                                                                    "note": "bench", "back": "review"},
                    follow_redirects=False)  # the redirect's page is timed next
        # The page a clinician lands on after acknowledging from the review list: the evaluation
        # is patched for that patient, then the kept review list for that patient's rows.
        results["review after an acknowledgement"] = [server_ms(client.get("/review?done=ack"))]
        results["worklist after an acknowledgement"] = [server_ms(client.get("/worklist"))]
    for name, values in results.items():
        print(f"{name}: median {statistics.median(values):.0f} ms, max {max(values):.0f} ms (n={len(values)})")
    import resource

    print(f"peak RSS of the app's process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
