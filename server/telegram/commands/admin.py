"""Admin commands (TELEGRAM_ADMIN_IDS only): /status, /sync, /pending, /approve, /reject."""

from __future__ import annotations

import html

from pyrogram import types

from server.errors import BadRequest
from server.telegram.commands.context import BotDeps
from server.telegram.formatting import name
from server.telegram.links import Link, decision_message

_ICON = {"ok": "✅", "degraded": "⚠️", "down": "❌", "off": "⏸"}


async def status(deps: BotDeps, _: types.Message, __: str) -> str:
    report = await deps.status()
    lines = [f"{_ICON.get(report.status, '')} <b>{report.status}</b> · {report.mode} mode"]
    for part_name, part in report.parts.items():
        line = f"{_ICON.get(part.status, '')} {part_name}: {part.status}"
        if part_name == "sync" and "seq" in part.info:
            line += f" — version {part.info['seq']}"
            if "age_s" in part.info:
                line += f", {part.info['age_s']:.0f} s ago"
        if part.detail:
            line += f" — {html.escape(part.detail)}"
        lines.append(line)
    return "\n".join(lines)


async def sync(deps: BotDeps, _: types.Message, __: str) -> str:
    result = await deps.sync_now("telegram")
    if result is None:
        return "Asked the syncing server to sync now: the boards move in a moment."
    if result.status == "ok":
        held = "" if result.stored else " (held in memory: the database is down)"
        return f"✅ Synced: {result.players:,} players, {result.changes:,} changes, version {result.seq}{held}"
    return f"❌ Sync {result.status}: {html.escape(result.error or 'unknown error')}"


async def pending(deps: BotDeps, _: types.Message, __: str) -> str:
    links = await deps.links.page("pending", limit=20)
    if not links:
        return "No link requests waiting."
    lines = ["<b>Link requests</b>"]
    lines.extend(
        f"#{link.id} · {name(link.telegram_name)} ({link.telegram_id}) → {name(link.player_name)} ({name(link.uid)})"
        for link in links
    )
    lines.append("/approve &lt;id&gt; or /reject &lt;id&gt;")
    return "\n".join(lines)


async def approve(deps: BotDeps, message: types.Message, args: str) -> str:
    link = await deps.links.approve(_link_id(args), f"telegram:{message.from_user.id}", deps.clock())
    await _tell_user(deps, link)
    return f"✅ #{link.id} approved: {name(link.telegram_name)} is {name(link.player_name)}."


async def reject(deps: BotDeps, message: types.Message, args: str) -> str:
    link = await deps.links.reject(_link_id(args), f"telegram:{message.from_user.id}", deps.clock())
    await _tell_user(deps, link)
    return f"#{link.id} rejected."


def _link_id(args: str) -> int:
    text = args.strip().lstrip("#")
    if not text.isdigit():
        raise BadRequest("Give the request's number, e.g. /approve 12 (see /pending).")
    return int(text)


async def _tell_user(deps: BotDeps, link: Link) -> None:
    """The requester hears the decision by DM, through the outbox like every message."""
    if await deps.outbox.add([decision_message(link)], deps.clock()):
        deps.wake_sender()
