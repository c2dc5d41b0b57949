"""Bot commands, one module per group, registered explicitly on a pyrogram Client.

`filters.command("rank")` matches `/rank` and `/rank@ourbot`, never `/ranking` or
`/rank@otherbot`: the command word must end at a space or the end of the text.
"""

from __future__ import annotations

from pyrogram import Client, filters
from pyrogram.handlers import MessageHandler

from server.telegram.commands import account, admin, public
from server.telegram.commands.context import BotDeps, Command, guarded

__all__ = ["BotDeps", "COMMANDS", "register"]

# (name, handler, admin only)
COMMANDS: tuple[tuple[str, Command, bool], ...] = (
    ("start", public.start, False),
    ("help", public.help_, False),
    ("top", public.top, False),
    ("race", public.race, False),
    ("rank", public.rank, False),
    ("link", account.link, False),
    ("unlink", account.unlink, False),
    ("alerts", account.alerts, False),
    ("status", admin.status, True),
    ("sync", admin.sync, True),
    ("pending", admin.pending, True),
    ("approve", admin.approve, True),
    ("reject", admin.reject, True),
)

UNKNOWN = "I don't know that command. /help lists what I can do."


async def _unknown(deps: BotDeps, _: object, __: str) -> str:
    return UNKNOWN


def register(client: Client, deps: BotDeps) -> list[MessageHandler]:
    """Add a handler per command (private chats and groups) and, in private chats, one
    answering unknown commands. Handlers of one group run first-match, so the fallback
    added last only sees what no command took."""
    chats = filters.private | filters.group
    handlers = [
        MessageHandler(guarded(deps, command, admin=is_admin), filters.command(command_name) & chats)
        for command_name, command, is_admin in COMMANDS
    ]
    handlers.append(MessageHandler(guarded(deps, _unknown), filters.private & filters.regex(r"^/")))
    for handler in handlers:
        client.add_handler(handler)
    return handlers
