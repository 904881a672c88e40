"""Screenshots of the review console's main pages for docs/ (``docs/images/console-*.png``).

Builds a throw-away deployment (SQLite in a temporary folder, demo keys), seeds it with a few users, serves
the real app with uvicorn on 127.0.0.1 and photographs each page in ``SHOTS`` with headless Chromium
(Debian's ``/usr/bin/chromium``, or ``OPENIDV_CHROMIUM``) through Playwright. Nothing leaves the machine.

    .venv/bin/python scripts/console_screenshots.py [--out docs/images]

To add a page: seed what it shows in ``seed`` and add a ``Shot`` (file name, path, who is signed in).
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("OPENIDV_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "screenshot password"


@dataclass(frozen=True)
class Shot:
    file: str
    path: str
    #: the user signed in while the page is photographed (None: nobody)
    user: str | None
    width: int = 1200
    height: int = 800


SHOTS: tuple[Shot, ...] = (
    Shot("console-sign-in.png", "/console/sign-in", None, height=640),
    Shot("console-queue.png", "/console/", "alex.analyst"),
    Shot("console-case.png", "/console/cases/{case}", "alex.analyst", height=1400),
    Shot("console-evaluation.png", "/console/evaluation", "alex.analyst"),
    Shot("console-report.png", "/console/evaluation/{report}", "alex.analyst", height=1200),
    Shot("console-audit.png", "/console/audit", "sam.supervisor"),
    Shot("console-admin-users.png", "/console/admin/users", "admin.ada"),
)


def seed_cases(app: Any) -> dict[str, str]:
    """Two demo applicants through the real pipeline to ``review`` (real selfies; SYNTHETIC passport pages
    carrying real portraits), the first claimed by the analyst; returns the ids the shots' paths name."""
    from openidv.console.eval_catalog import EvalCatalog
    from openidv.demo import FACE_CASES, find_shared_data, passport_photo
    from openidv.evidence import Evidence
    from openidv.imageio import load_image
    from openidv.services.review_cases import ReviewCases, Reviewer

    shared = find_shared_data()
    if shared is None:
        raise SystemExit("../shared/data not found (set OPENIDV_SHARED_DATA)")
    faces = shared / "faces"
    work = Path(os.environ["OPENIDV_DATA_DIR"]) / "documents"
    for index, (_, expected, selfie, document, subject) in enumerate(FACE_CASES):
        if expected != "review":
            continue
        evidence = Evidence(
            selfie=load_image(faces / selfie, name=selfie),
            document_image=load_image(passport_photo(faces / document, work, index), name=document),
            subject_id=subject,
        )
        app.state.verifier.verify(evidence, actor="screenshots")
    cases = ReviewCases(app.state.store)
    first = cases.list_cases("default").items[0]
    cases.claim("default", first.id, Reviewer("console:alex.analyst", "analyst", via="console"))
    reports = EvalCatalog(app.state.settings.eval_dirs).reports()
    report = next(r for r in reports if r.label.endswith("face-eval/pairs"))
    return {"case": first.id, "report": report.id}


def seed(accounts: Any) -> None:
    """The users the pages show: one of each role, and a disabled one."""
    for name, role in (
        ("admin.ada", "admin"),
        ("sam.supervisor", "supervisor"),
        ("alex.analyst", "analyst"),
        ("former.analyst", "analyst"),
    ):
        accounts.create_user(name, role, PASSWORD, actor="screenshots")
    accounts.disable_user("former.analyst", actor="screenshots")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/console/sign-in")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).is_file():
        print(f"Chromium not found at {CHROMIUM}; apt-get install chromium", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="openidv-screenshots-"))
    os.environ["OPENIDV_DATA_DIR"] = str(work)
    for name in ("OPENIDV_DATABASE_URL", "OPENIDV_REDIS_URL", "OPENIDV_AUDIT_CHECKPOINTS"):
        os.environ.pop(name, None)  # a throw-away deployment, whatever the shell points at
    os.environ["OPENIDV_ENCRYPTION_KEY"] = base64.b64encode(os.urandom(32)).decode()
    os.environ["OPENIDV_AUDIT_KEY"] = base64.b64encode(os.urandom(32)).decode()
    os.environ["OPENIDV_EVAL_DIRS"] = str(REPO / "docs")  # the evaluation reports this repository ships
    from playwright.sync_api import sync_playwright

    from openidv.api.app import create_app
    from openidv.settings import Settings
    from openidv.store.repository import Store

    settings = Settings.from_env()
    store = Store.from_settings(settings)
    app = create_app(settings, store=store)
    seed(app.state.console_accounts)
    ids = seed_cases(app)
    args.out.mkdir(parents=True, exist_ok=True)
    with _serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            for shot in SHOTS:
                context = browser.new_context(viewport={"width": shot.width, "height": shot.height})
                page = context.new_page()
                if shot.user is not None:
                    _sign_in(page, base, shot.user)
                page.goto(f"{base}{shot.path.format(**ids)}")
                page.screenshot(path=str(args.out / shot.file), full_page=True)
                context.close()
                print(f"wrote {args.out / shot.file}")
        finally:
            browser.close()
    store.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
