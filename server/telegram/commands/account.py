"""Linking your Telegram account to your Goated player, and alerts: /link, /unlink, /alerts."""

from __future__ import annotations

from pyrogram import enums, types

from server.errors import BadRequest
from server.telegram.commands.context import BotDeps, sender_name
from server.telegram.formatting import name
from server.telegram.outbox import Outgoing


async def link(deps: BotDeps, message: types.Message, args: str) -> str:
    assert deps.players is not None and message.from_user is not None
    if not args:
        return "Usage: /link &lt;your Goated name&gt;"
    user = message.from_user
    uid, player = deps.players.find(args)
    now = deps.clock()
    request = await deps.links.request(user.id, sender_name(user), uid, player, now)
    note = (
        f"🔗 <b>Link request #{request.id}</b>\n"
        f"{name(request.telegram_name)} (Telegram id {user.id}) says they are {name(player)} ({name(uid)}).\n"
        f"/approve {request.id} or /reject {request.id}"
    )
    admins = [Outgoing(str(a), "admin", note, f"link:{request.id}:{a}") for a in deps.settings.telegram_admin_ids]
    if admins and await deps.outbox.add(admins, now):
        deps.wake_sender()
    return f"Request #{request.id} sent: an admin will confirm that you are <b>{name(player)}</b>. I'll message you when they do."


async def unlink(deps: BotDeps, message: types.Message, _: str) -> str:
    assert message.from_user is not None
    ended = await deps.links.unlink(message.from_user.id, deps.clock())
    if ended is None:
        return "You have no linked account."
    await deps.accounts.set_alerts(message.from_user.id, False, deps.clock())
    return f"Done: you are no longer linked to <b>{name(ended.player_name)}</b>, and alerts are off."


async def alerts(deps: BotDeps, message: types.Message, args: str) -> str:
    assert message.from_user is not None
    choice = args.strip().lower()
    if choice not in ("on", "off"):
        state = "on" if await deps.accounts.alerts(message.from_user.id) else "off"
        return f"Alerts are {state}. Use /alerts on or /alerts off."
    if choice == "off":
        await deps.accounts.set_alerts(message.from_user.id, False, deps.clock())
        return "Alerts are off."
    if await deps.links.linked_uid(message.from_user.id) is None:
        raise BadRequest("Link your Goated account first: /link <your Goated name>. Alerts follow your own player.")
    await deps.accounts.set_alerts(message.from_user.id, True, deps.clock())
    text = "🔔 Alerts are on: I'll message you when your place changes or someone passes you."
    if message.chat.type is not enums.ChatType.PRIVATE:
        text += " Alerts come as private messages: open a chat with me and press Start, or I can't write to you."
    return text
