"""The console's page (CONTRACT section 7, `/admin/`): one page and its script and style, served
beside these handlers, working on the JSON API; in Korean, or in English when the browser
prefers it (`Accept-Language`). Every `/admin/` answer gets console_headers.py's headers."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

HERE = Path(__file__).parent / "console"
_FILES = {
    "/admin/": ("index.html", "text/html"),
    "/admin/console.js": ("console.js", "text/javascript"),
    "/admin/console.css": ("console.css", "text/css"),
}


def _serve(name: str, content_type: str) -> web.Response:
    return web.Response(body=(HERE / name).read_bytes(), content_type=content_type, charset="utf-8")


PAGE_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "멍이랑 moderation",
        "brand": "moderation",
        "nav_queue": "Queue",
        "nav_actioned": "Actioned",
        "nav_dismissed": "Dismissed",
        "nav_audit": "Audit log",
        "sign_out": "Sign out",
        "sign_in": "Sign in",
        "email": "Email",
        "password": "Password",
        "totp": "Authenticator code",
        "queue_title": "Open reports",
        "reason": "Reason",
        "all": "all",
        "keys": "Keys",
        "move": "move",
        "dismiss": "Dismiss",
        "hide": "Hide",
        "suspend": "Suspend",
        "ban": "Ban",
        "more": "Load more",
        "empty": "Nothing here. The queue is clear.",
        "when": "When",
        "staff": "Staff",
        "action": "Action",
        "target": "Target",
        "note": "Note",
        "older": "Older",
        "note_placeholder": "Note for the audit log (optional)",
        "days": "days",
        "restore": "Restore",
        "hidden": "hidden",
    },
    "ko": {
        "title": "멍이랑 신고 관리",
        "brand": "신고 관리",
        "nav_queue": "처리 대기",
        "nav_actioned": "조치됨",
        "nav_dismissed": "기각됨",
        "nav_audit": "감사 기록",
        "sign_out": "로그아웃",
        "sign_in": "로그인",
        "email": "이메일",
        "password": "비밀번호",
        "totp": "인증 앱 코드",
        "queue_title": "처리 대기 신고",
        "reason": "사유",
        "all": "전체",
        "keys": "단축키",
        "move": "이동",
        "dismiss": "기각",
        "hide": "숨김",
        "suspend": "정지",
        "ban": "영구 정지",
        "more": "더 보기",
        "empty": "처리할 신고가 없어요.",
        "when": "시각",
        "staff": "담당자",
        "action": "조치",
        "target": "대상",
        "note": "메모",
        "older": "이전 기록",
        "note_placeholder": "감사 기록에 남길 메모 (선택)",
        "days": "일",
        "restore": "복구",
        "hidden": "숨김 상태",
    },
}
_MARKER = re.compile(r"\{\{(\w+)\}\}")


def page_language(request: web.Request) -> str:
    """`ko`, or `en` when the browser ranks English above Korean (`Accept-Language`)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in PAGE_STRINGS and q > 0:
            ranked.append((-q, i, primary))
    return min(ranked)[2] if ranked else "ko"


async def console_page(request: web.Request) -> web.Response:
    lang = page_language(request)
    strings = {**PAGE_STRINGS[lang], "lang": lang}
    html = _MARKER.sub(lambda m: strings[m.group(1)], (HERE / "index.html").read_text("utf-8"))
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers["Vary"] = "Accept-Language"
    return response


async def console_script(request: web.Request) -> web.Response:
    return _serve(*_FILES["/admin/console.js"])


async def console_style(request: web.Request) -> web.Response:
    return _serve(*_FILES["/admin/console.css"])
