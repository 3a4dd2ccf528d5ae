"""What filtering costs the write path: `POST /walks/{id}/comments` before and after it.

Two API processes on one small database (`withbowwow_bench_filtering`: a walk owner, a
commenter, one public walk): "before" runs the code of the commit before the filter was added
(a detached git worktree of it), "after" this checkout. One client posts the same comment to
each in turn, one request at a time, so the machine's noise falls on both alike; a short
comment (a typical one) and one of 1,000 characters (the longest allowed, Korean and English
mixed). The filter alone (`Matcher.objectionable`) and the body's whole validation are also
timed in-process on the same texts, which other load on the machine inflates far less.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg

from bench import results
from bench.procs import ROOT, Children, wait_http
from bench.stack import Stack, ensure_database
from services.api.consents.documents import load_documents, required_kinds
from services.api.consents.records import record_consents
from services.api.filtering.matcher import built_in
from services.api.walks.interaction_handlers import CommentIn
from shared.db import init_connection
from shared.settings import Settings
from shared.tokens import issue_token
from tools.local_services import free_port

if TYPE_CHECKING:
    from bench.runner import Sizes

DATABASE = "withbowwow_bench_filtering"
WARMUP = 50
SAMPLES = 400  # per text and side
IN_PROCESS_REPEATS = 2_000
SHORT = "초코 오늘 신났네요! 내일도 같이 걸어요 🐶"
_LONG_UNIT = "오늘 한강에서 초코랑 한 시간 반 걸었어요. Such a good boy, he met three corgis! "
LONG = (_LONG_UNIT * (1000 // len(_LONG_UNIT) + 1))[:1000]
TEXTS = {"short": SHORT, "long_1000_chars": LONG}
# The first commit with the filter; "before" is its parent.
_FILTER_FILE = "services/api/filtering/matcher.py"
# Run `python -m services.api` from another checkout (cwd is this one, which would win).
_RUN_FROM = (
    "import runpy, sys; sys.path.insert(0, {path!r}); "
    "runpy.run_module('services.api', run_name='__main__')"
)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def before_commit() -> str:
    added = _git("log", "-1", "--diff-filter=A", "--format=%H", "HEAD", "--", _FILTER_FILE)
    return _git("rev-parse", f"{added}^")


async def arrange(conn: asyncpg.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    """The commenter, who has agreed to the required documents (else the consent gate answers
    403), and the public walk they comment on."""
    await conn.execute("TRUNCATE users CASCADE")
    ids = []
    for name in ("owner", "commenter"):
        ids.append(
            await conn.fetchval(
                """INSERT INTO users (email, password_hash, nickname)
                   VALUES ($1, 'not a hash', $2) RETURNING id""",
                f"{name}@bench.invalid",
                name,
            )
        )
    documents = load_documents(Settings.model_fields["legal_documents_file"].default)
    versions = {kind: documents[kind].version for kind in required_kinds(documents)}
    await record_consents(conn, ids[1], versions, "given", "127.0.0.1")
    walk_id = await conn.fetchval(
        """INSERT INTO walks (user_id, started_at, ended_at, distance_m, visibility)
           VALUES ($1, now() - interval '1 hour', now(), 3000, 'public') RETURNING id""",
        ids[0],
    )
    return ids[1], walk_id


def figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(ordered[len(ordered) // 2], 3),
        "p99_ms": round(ordered[round(0.99 * (len(ordered) - 1))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def time_in_process(text: str) -> dict[str, Any]:
    matcher = built_in()
    raw = CommentIn(body=text).model_dump_json().encode()
    out = {}
    for name, work in {
        "filter_alone": lambda: matcher.objectionable(text),
        "comment_body_validation": lambda: CommentIn.model_validate_json(raw),
    }.items():
        samples = []
        for _ in range(IN_PROCESS_REPEATS):
            started = time.perf_counter()
            work()
            samples.append((time.perf_counter() - started) * 1000)
        out[name] = figures(samples)
    return out


async def measure(stack: Stack, database_url: str, before_tree: Path) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        await init_connection(conn)
        commenter, walk_id = await arrange(conn)
    finally:
        await conn.close()
    children = Children(stack.log_dir)
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        bases = {}
        for side in ("before", "after"):
            port = free_port()
            env = stack.service_env(
                API_PORT=str(port), DATABASE_URL=database_url, COMMENT_LIMIT_PER_USER="1000000"
            )
            args = ["-m", "services.api"]
            if side == "before":
                args = ["-c", _RUN_FROM.format(path=str(before_tree))]
            api = await children.start(f"api-filtering-{side}", args, env)
            bases[side] = f"http://127.0.0.1:{port}"
            await wait_http(bases[side] + "/healthz", api)
        token, _ = issue_token(stack.jwt_secret, commenter, "access", 3600, session_id=uuid.uuid4())
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
            for i in range(WARMUP + SAMPLES):
                for text_name, text in TEXTS.items():
                    for side, base in bases.items():
                        started = time.perf_counter()
                        async with session.post(
                            f"{base}/walks/{walk_id}/comments", json={"body": text}
                        ) as resp:
                            await resp.read()
                        elapsed = (time.perf_counter() - started) * 1000
                        if resp.status != 201:
                            raise RuntimeError(f"{side} answered {resp.status}")
                        if i >= WARMUP:
                            samples.setdefault((text_name, side), []).append(elapsed)
    finally:
        await children.stop_all()
    run: dict[str, Any] = {}
    for text_name, text in TEXTS.items():
        point = {side: figures(samples[(text_name, side)]) for side in ("before", "after")}
        for figure in ("p50_ms", "mean_ms"):
            added = point["after"][figure] - point["before"][figure]
            point[f"added_{figure}"] = round(added, 3)
        point["in_process"] = time_in_process(text)
        point["chars"] = len(text)
        run[text_name] = point
    return run


async def suite(stack: Stack, sizes: Sizes, n: int, admin_url: str) -> None:
    from bench.runner import medians, repeat, verdict, within

    database_url = await ensure_database(admin_url, DATABASE)
    before = before_commit()
    with tempfile.TemporaryDirectory(prefix="bench-before-filtering-") as tmp:
        tree = Path(tmp) / "tree"
        _git("worktree", "add", "--detach", str(tree), before)
        try:
            runs = await repeat(n, lambda: measure(stack, database_url, tree))
        finally:
            _git("worktree", "remove", "--force", str(tree))
    results.write(
        "api_comment_filtering",
        {
            "about": "POST /walks/{id}/comments of the same text to two API processes on one "
            f"database: `before` (commit {before[:10]}, the parent of the filter's first "
            "commit) and `after` (this checkout: the filter, NFC and the invisible-character "
            f"rule). `short`: {len(SHORT)} characters; `long_1000_chars`: the longest comment "
            f"allowed. {SAMPLES} requests each, one at a time, in turn, after {WARMUP} of "
            "warm-up; the API at LOG_LEVEL=WARNING. `in_process`: the filter alone "
            "(`Matcher.objectionable`) and the body's whole validation "
            f"(`CommentIn.model_validate_json`), {IN_PROCESS_REPEATS} times each. The machine "
            "was shared with other engineers' test suites while measuring.",
            "target": "the filter alone under 1 ms (p50) on the longest comment, 1,000 characters",
            "verdict": verdict(
                {
                    "filter alone < 1 ms on 1,000 characters (p50)": within(
                        results.median_of(
                            runs, ("long_1000_chars", "in_process", "filter_alone", "p50_ms")
                        ),
                        0.999,
                    )
                }
            ),
            "runs": runs,
            "medians": medians(runs),
        },
    )
