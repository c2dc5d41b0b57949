"""Commands for everyone: /start, /help, /top, /race, /rank."""

from __future__ import annotations

from pyrogram import types

from server.money import derived_amount
from server.leaderboard.board import Period
from server.races.countdown import seconds_left
from server.races.model import RaceStatus
from server.telegram.commands.context import BotDeps, parse_period, sender_name
from server.telegram.formatting import PERIOD_LABEL, cents, duration, money, name, place, race_ended

TOP = 10

HELP = """<b>Goated Live bot</b>
/top [today|week|month|all] — the top 10
/race — the current race: time left, pool, top 10
/rank &lt;name&gt; — a player's place in every board and the race
/link &lt;goated name&gt; — link your Goated account (an admin confirms)
/unlink — remove your link
/alerts — your alerts: your place changes, passed in the race, out of its prizes, close to the next place"""

ADMIN_HELP = """
<b>Admins</b>
/status — health and the last sync
/sync — sync now
/pending — link requests waiting
/approve &lt;id&gt; · /reject &lt;id&gt;"""


async def start(deps: BotDeps, message: types.Message, _: str) -> str:
    user = message.from_user
    greeting = f"👋 Hi {name(sender_name(user))}! I follow the Goated Live leaderboards and races."
    return f"{greeting}\n\n{await help_(deps, message, '')}"


async def help_(deps: BotDeps, message: types.Message, _: str) -> str:
    text = HELP
    if message.from_user is not None and deps.is_admin(message.from_user.id):
        text += ADMIN_HELP
    return text


async def top(deps: BotDeps, _: types.Message, args: str) -> str:
    period = parse_period(args)
    board = deps.live.board(period)
    if not board.rows:
        return f"No wagers on the {PERIOD_LABEL[period].lower()} board yet."
    lines = [f"🏆 <b>{PERIOD_LABEL[period]}</b> — top {min(TOP, board.total)} of {board.total:,}"]
    lines.extend(f"{place(r.rank)} {name(r.name)} — {money(r.amount)}" for r in board.rows[:TOP])
    if deps.live.synced_at is not None:
        lines.append(f"<i>Updated {deps.live.synced_at:%H:%M} UTC</i>")
    return "\n".join(lines)


async def race(deps: BotDeps, message: types.Message, _: str) -> str:
    view = deps.races.live.current() if deps.races is not None else None
    if view is None or view.race.status is RaceStatus.CANCELLED:
        return "No race is running right now."
    r = view.race
    now = deps.clock()
    if r.status is RaceStatus.ENDED:
        return race_ended(r, r.winners) if r.finalized else f"🏁 <b>{name(r.title)}</b> just ended: the result is being settled."
    if r.status is RaceStatus.UPCOMING:
        return f"🗓 <b>{name(r.title)}</b> starts in {duration(seconds_left(r, now))} · prize pool {cents(r.pool_cents)}"
    lines = [
        f"🏁 <b>{name(r.title)}</b> — {duration(seconds_left(r, now))} left",
        f"Prize pool {cents(r.pool_cents)} · ends {r.ends_at:%b %d, %H:%M} UTC",
    ]
    for s in view.standings[:TOP]:
        prize = f" · {cents(s.prize_cents)}" if s.prize_cents else ""
        lines.append(f"{place(s.position)} {name(s.name)} — {money(s.amount)}{prize}")
    if not view.standings:
        lines.append("No wagers yet.")
    user = message.from_user
    uid = await deps.links.linked_uid(user.id) if user is not None else None
    if uid is not None and deps.races is not None:
        mine = await deps.races.store.standing(r.id, uid)
        if mine is None:
            lines.append("You: no wagers in this race yet.")
        else:
            gap = f", {money(mine.gap)} behind #{mine.position - 1}" if mine.gap is not None else ""
            lines.append(f"You: #{mine.position} — {money(mine.amount)}{gap}")
    return "\n".join(lines)


async def rank(deps: BotDeps, message: types.Message, args: str) -> str:
    assert deps.players is not None
    if args:
        uid, player = deps.players.find(args)
    else:
        uid = await deps.links.linked_uid(message.from_user.id) if message.from_user else None
        if uid is None:
            return "Usage: /rank &lt;name&gt; (or link your account with /link to see your own)."
        player = deps.players.name(uid) or uid
    lines = [f"👤 <b>{name(player)}</b>"]
    for period in Period:
        board = deps.live.board(period)
        row = deps.live.row(period, uid)
        label = PERIOD_LABEL[period]
        if row is None:
            lines.append(f"{label}: not on the board")
            continue
        gap = ""
        if row.rank > 1:
            above = board.rows[row.rank - 2]
            gap = f" ({money(derived_amount(above.amount, row.amount))} behind #{above.rank})"
        lines.append(f"{label}: #{row.rank} of {board.total:,} — {money(row.amount)}{gap}")
    view = deps.races.live.current() if deps.races is not None else None
    if view is not None and view.race.status in (RaceStatus.LIVE, RaceStatus.ENDED):
        mine = await deps.races.store.standing(view.race.id, uid)  # type: ignore[union-attr]
        title = name(view.race.title)
        if mine is None:
            lines.append(f"Race {title}: no wagers yet")
        else:
            gap = f" ({money(mine.gap)} behind #{mine.position - 1})" if mine.gap is not None else ""
            lines.append(f"Race {title}: #{mine.position} — {money(mine.amount)}{gap}")
    return "\n".join(lines)
