"""Linking your Telegram account to your Goated player, and alerts: /link, /unlink, /alerts."""

from __future__ import annotations

from pyrogram import enums, types

from server.errors import BadRequest
from server.races.model import cents_from_amount
from server.telegram.commands.context import BotDeps, sender_name
from server.telegram.formatting import cents, name
from server.telegram.livetext import live_race
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


# What each alert is about, as the settings list and the confirmations say it.
ABOUT = {
    "places": "your place on the boards changes",
    "passed": "someone passes you in the race",
    "paid": "you drop out of the race's paid places",
    "near": "you come within {amount} of the place above you in the race",
}
NEAR_MAX_CENTS = 100_000_000_00  # $100,000,000: more is a typo
USAGE = (
    "/alerts on · /alerts off — the usual alerts (places, passed, paid), or none\n"
    "/alerts places on|off · /alerts passed on|off · /alerts paid on|off\n"
    "/alerts near &lt;amount in $&gt; · /alerts near off"
)
NOT_LINKED = "Link your Goated account first: /link <your Goated name>. Alerts follow your own player."


async def alerts(deps: BotDeps, message: types.Message, args: str) -> str:
    """`/alerts` shows the settings; `/alerts on|off` all of them; `/alerts <kind> ...` one."""
    assert message.from_user is not None
    user_id = message.from_user.id
    words = args.lower().split()
    if not words:
        return await _settings(deps, user_id)
    if words == ["off"]:
        await deps.accounts.set_alerts(user_id, False, deps.clock())
        return "Alerts are off."
    if words == ["on"]:
        await _must_be_linked(deps, user_id)
        await deps.accounts.set_alerts(user_id, True, deps.clock())
        text = (
            "🔔 Alerts are on: I'll message you when your place on the boards changes, when someone passes you "
            "in the race, or when you drop out of its paid places. /alerts near &lt;amount&gt; adds a heads-up "
            "when you come close to the place above you."
        )
        return text + _notes(deps, message, race=True)
    kind, rest = words[0], words[1:]
    if kind not in ABOUT:
        raise BadRequest(f"I don't know the alert {args.split()[0][:20]!r}. Try places, passed, paid or near (or just /alerts to see yours).")
    value: bool | int | None
    if kind == "near":
        if len(rest) != 1:
            raise BadRequest("Say how close, in dollars: /alerts near 250 (or /alerts near off).")
        value = None if rest[0] == "off" else _amount(rest[0])
    else:
        if rest not in (["on"], ["off"]):
            raise BadRequest(f"Say on or off: /alerts {kind} on, or /alerts {kind} off.")
        value = rest[0] == "on"
    if value is None or value is False:
        await deps.accounts.set_alert(user_id, kind, value, deps.clock())
        return f"🔕 Off: no message when {ABOUT[kind].format(amount='a chosen amount')}."
    await _must_be_linked(deps, user_id)
    await deps.accounts.set_alert(user_id, kind, value, deps.clock())
    about = ABOUT[kind].format(amount=cents(value) if kind == "near" else "")
    return f"🔔 On: I'll message you when {about}." + _notes(deps, message, race=kind != "places")


def _amount(text: str) -> int:
    """Cents from what a user types: 250, $250, 1,000.50."""
    try:
        value = cents_from_amount(text.removeprefix("$"))
    except ValueError as exc:
        raise BadRequest(f"{text[:20]!r} is not an amount in dollars: it {exc}. Try /alerts near 250.") from None
    if value > NEAR_MAX_CENTS:
        raise BadRequest(f"That is more than {cents(NEAR_MAX_CENTS)}: give an amount like /alerts near 250.")
    return value


async def _must_be_linked(deps: BotDeps, user_id: int) -> None:
    if await deps.links.linked_uid(user_id) is None:
        raise BadRequest(NOT_LINKED)


def _notes(deps: BotDeps, message: types.Message, *, race: bool) -> str:
    text = ""
    if race and deps.races is not None and live_race(deps.races.live.races(), deps.clock()) is None:
        text += " No race is live right now: race alerts start with the next one."
    if message.chat.type is not enums.ChatType.PRIVATE:
        text += " Alerts come as private messages: open a chat with me and press Start, or I can't write to you."
    return text


async def _settings(deps: BotDeps, user_id: int) -> str:
    prefs = await deps.accounts.prefs(user_id)
    uid = await deps.links.linked_uid(user_id)
    if uid is None:
        return f"🔔 Alerts follow your own player: link it first with /link &lt;your Goated name&gt;.\n{USAGE}"
    assert deps.players is not None
    player = deps.players.name(uid) or uid
    lines = [f"🔔 <b>Your alerts</b> for <b>{name(player)}</b>, by private message:"]
    lines += [
        f"places: {_state(prefs.places)} — {ABOUT['places']}",
        f"passed: {_state(prefs.passed)} — {ABOUT['passed']}",
        f"paid: {_state(prefs.paid)} — {ABOUT['paid']}",
        f"near: {cents(prefs.near_cents) if prefs.near_cents is not None else 'off'} — "
        + ABOUT["near"].format(amount="that amount" if prefs.near_cents is not None else "a chosen amount"),
        USAGE,
    ]
    return "\n".join(lines)


def _state(on: bool) -> str:
    return "on" if on else "off"
