"""Telegram's side of the wire, for tests: a real kurigram Client whose MTProto session is
replaced by a recorder answering the raw API calls the way Telegram would.

Every API call a pyrogram Client makes goes through `client.invoke`, which hands the raw
function to `client.session.invoke`; that is the one method replaced here, so everything
above it (send_message, reply_text, peer resolution, HTML parsing, dispatch) is the real
library code.
"""

from __future__ import annotations

import asyncio
import time
from io import BytesIO
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyrogram import Client, enums, raw, types
from pyrogram.errors import MessageIdInvalid, MessageNotModified
from pyrogram.raw.core import TLObject

from server.settings import Settings

BOT_ID = 7_000_000_001
BOT_USERNAME = "goated_test_bot"
CHANNEL_ID = 1_987_654_321  # raw id; the chat id is -100<raw id>
CHANNEL_CHAT_ID = -1_001_987_654_321
CHANNEL_USERNAME = "goatedlive_test"


@dataclass
class Sent:
    peer: int | str  # user id, or "channel"
    text: str  # the text as Telegram shows it (HTML parsed away)
    entities: list[Any]
    query: Any

    def bold(self) -> list[str]:
        """The bold runs (entity offsets count UTF-16 code units, as Telegram does)."""
        units = self.text.encode("utf-16-le")
        return [
            units[2 * e.offset : 2 * (e.offset + e.length)].decode("utf-16-le")
            for e in self.entities
            if isinstance(e, raw.types.MessageEntityBold)
        ]


@dataclass
class Edit:
    message_id: int
    text: str  # the new text as Telegram shows it
    query: Any


@dataclass
class ChannelState:
    """The channel as Telegram keeps it, whichever connection looks: its messages (id ->
    text and entities) and the pinned one. Two fakes may share one (two bot processes)."""

    messages: dict[int, tuple[str, list[Any]]] = field(default_factory=dict)
    pinned: int | None = None
    next_id: int = 1000


@dataclass
class FakeTelegram:
    sent: list[Sent] = field(default_factory=list)
    calls: list[Any] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)  # raised by the next SendMessage calls, in order
    after_send: Callable[[Sent], None] | None = None  # runs once a message is "delivered"
    channel: ChannelState = field(default_factory=ChannelState)
    edits: list[Edit] = field(default_factory=list)  # edits Telegram accepted
    edit_errors: list[BaseException] = field(default_factory=list)  # raised by the next EditMessage calls
    pins: list[int] = field(default_factory=list)  # message ids the bot pinned, in order

    @property
    def channel_messages(self) -> dict[int, tuple[str, list[Any]]]:
        return self.channel.messages

    @property
    def pinned(self) -> int | None:
        return self.channel.pinned

    @pinned.setter
    def pinned(self, message_id: int | None) -> None:
        self.channel.pinned = message_id  # a person pins (or, with None, unpins)

    @property
    def _next_id(self) -> int:
        return self.channel.next_id

    @_next_id.setter
    def _next_id(self, value: int) -> None:
        self.channel.next_id = value

    # ---- the session interface pyrogram calls --------------------------------------

    async def invoke(self, query: Any, retries: int = 0, timeout: float = 0, sleep_threshold: float = 0, retry_delay: float = 0) -> Any:
        """Answer as Telegram would; answers go through the TL wire format and back, so
        they look exactly like decoded server responses (absent vectors are [], ...)."""
        answer = self._answer(query)
        if isinstance(answer, TLObject):
            return wire(answer)
        if isinstance(answer, list):
            return [wire(a) for a in answer]
        return answer

    def _answer(self, query: Any) -> Any:
        self.calls.append(query)
        if isinstance(query, raw.functions.messages.SendMessage):
            return self._send(query)
        if isinstance(query, raw.functions.users.GetUsers):
            return [raw.types.User(id=u.user_id, access_hash=1, first_name=f"user{u.user_id}") for u in query.id]
        if isinstance(query, raw.functions.messages.GetChats):
            return raw.types.messages.Chats(
                chats=[raw.types.Chat(id=i, title="Fans", photo=raw.types.ChatPhotoEmpty(), participants_count=3, date=0, version=1) for i in query.id]
            )
        if isinstance(query, raw.functions.channels.GetChannels):
            return raw.types.messages.Chats(chats=[self._channel()])
        if isinstance(query, raw.functions.contacts.ResolveUsername):
            return raw.types.contacts.ResolvedPeer(peer=raw.types.PeerChannel(channel_id=CHANNEL_ID), chats=[self._channel()], users=[])
        if isinstance(query, raw.functions.bots.SetBotCommands):
            return True
        if isinstance(query, raw.functions.updates.GetState):
            return raw.types.updates.State(pts=1, qts=0, date=int(time.time()), seq=0, unread_count=0)
        if isinstance(query, raw.functions.messages.EditMessage):
            return self._edit(query)
        if isinstance(query, raw.functions.messages.UpdatePinnedMessage):
            return self._pin(query)
        if isinstance(query, raw.functions.channels.GetMessages):
            return self._get_channel_messages(query)
        raise NotImplementedError(f"FakeTelegram does not answer {type(query).__name__}")

    async def stop(self) -> None:  # Session.stop, called by Client.disconnect
        return None

    # ---- what Telegram answers to a sent message ------------------------------------

    def _send(self, query: Any) -> Any:
        if self.errors:
            raise self.errors.pop(0)
        self._next_id += 1
        peer = query.peer
        is_channel = isinstance(peer, raw.types.InputPeerChannel)
        if is_channel:
            who: int | str = "channel"
        elif isinstance(peer, raw.types.InputPeerChat):
            who = -peer.chat_id
        else:
            who = peer.user_id
        sent = Sent(who, query.message, list(query.entities or []), query)
        self.sent.append(sent)
        if self.after_send is not None:
            self.after_send(sent)
        now = int(time.time())
        if not is_channel:
            return raw.types.UpdateShortSentMessage(id=self._next_id, pts=1, pts_count=1, date=now, out=True)
        self.channel_messages[self._next_id] = (query.message, list(query.entities or []))
        return raw.types.Updates(
            updates=[
                raw.types.UpdateMessageID(id=self._next_id, random_id=query.random_id),
                raw.types.UpdateNewChannelMessage(message=self._channel_message(self._next_id), pts=1, pts_count=1),
            ],
            users=[],
            chats=[self._channel()],
            date=now,
            seq=0,
        )

    # ---- editing, pinning and reading channel messages -------------------------------

    def _edit(self, query: Any) -> Any:
        if self.edit_errors:
            raise self.edit_errors.pop(0)
        if not isinstance(query.peer, raw.types.InputPeerChannel):
            raise NotImplementedError("FakeTelegram edits channel messages only")
        if query.id not in self.channel_messages:
            raise MessageIdInvalid()  # deleted, or never there
        entities = list(query.entities or [])
        if self.channel_messages[query.id] == (query.message, entities):
            raise MessageNotModified()  # Telegram refuses an edit that changes nothing
        self.channel_messages[query.id] = (query.message, entities)
        self.edits.append(Edit(query.id, query.message, query))
        return raw.types.Updates(
            updates=[raw.types.UpdateEditChannelMessage(message=self._channel_message(query.id, edited=True), pts=1, pts_count=1)],
            users=[],
            chats=[self._channel()],
            date=int(time.time()),
            seq=0,
        )

    def _pin(self, query: Any) -> Any:
        if query.id not in self.channel_messages:
            raise MessageIdInvalid()
        if query.unpin:
            if self.pinned == query.id:
                self.pinned = None
        else:
            self.pinned = query.id
            self.pins.append(query.id)
        return raw.types.Updates(
            updates=[
                raw.types.UpdatePinnedChannelMessages(channel_id=CHANNEL_ID, messages=[query.id], pts=1, pts_count=1, pinned=not query.unpin)
            ],
            users=[],
            chats=[self._channel()],
            date=int(time.time()),
            seq=0,
        )

    def _get_channel_messages(self, query: Any) -> Any:
        found: list[Any] = []
        for wanted in query.id:
            if isinstance(wanted, raw.types.InputMessagePinned):
                message_id = self.pinned
            else:
                message_id = getattr(wanted, "id", None)
            if message_id is not None and message_id in self.channel_messages:
                found.append(self._channel_message(message_id))
            else:
                found.append(raw.types.MessageEmpty(id=message_id or 0))
        return raw.types.messages.ChannelMessages(pts=1, count=len(found), messages=found, topics=[], chats=[self._channel()], users=[])

    def _channel_message(self, message_id: int, *, edited: bool = False) -> Any:
        text, entities = self.channel_messages[message_id]
        now = int(time.time())
        return raw.types.Message(
            id=message_id,
            peer_id=raw.types.PeerChannel(channel_id=CHANNEL_ID),
            date=now,
            message=text,
            out=True,
            post=True,
            entities=entities or None,
            edit_date=now if edited else None,
            pinned=self.pinned == message_id or None,
        )

    # ---- what people do in the channel ----------------------------------------------

    def delete(self, message_id: int) -> None:
        """An admin deletes a channel message (a deleted message is no longer pinned)."""
        self.channel_messages.pop(message_id, None)
        if self.pinned == message_id:
            self.pinned = None

    def post_by_person(self, text: str) -> int:
        """An admin posts in the channel by hand; its id."""
        self._next_id += 1
        self.channel_messages[self._next_id] = (text, [])
        return self._next_id

    def live_text(self, message_id: int) -> str:
        return self.channel_messages[message_id][0]

    @staticmethod
    def _channel() -> Any:
        return raw.types.Channel(
            id=CHANNEL_ID,
            title="Goated Live",
            photo=raw.types.ChatPhotoEmpty(),
            date=0,
            access_hash=42,
            broadcast=True,
            username=CHANNEL_USERNAME,
        )

    # ---- clients --------------------------------------------------------------------

    def client(self, settings: Settings | None = None) -> Client:
        """A real Client that "connects" to this fake instead of Telegram."""
        client = Client(
            "goated-test",
            api_id=settings.telegram_api_id if settings else 12345,
            api_hash=settings.telegram_api_hash if settings else "0123456789abcdef0123456789abcdef",
            bot_token=settings.telegram_bot_token if settings else "123456:" + "A" * 35,
            in_memory=True,
            sleep_threshold=0,
            loop=asyncio.get_running_loop(),
        )

        async def start() -> Client:
            await self.connect(client)
            await client.dispatcher.start()
            return client

        async def stop(block: bool = True) -> Client:
            await client.dispatcher.stop()
            client.is_connected = False
            await client.storage.close()
            return client

        client.start = start  # type: ignore[method-assign]
        client.stop = stop  # type: ignore[method-assign]
        return client

    async def connect(self, client: Client) -> None:
        await client.storage.open()
        client.session = self  # type: ignore[assignment]
        client.is_connected = True
        client.me = types.User(id=BOT_ID, is_bot=True, first_name="Goated", username=BOT_USERNAME, client=client)

    def factory(self) -> Callable[[Settings], Client]:
        return self.client


# ---- messages as Telegram would deliver them --------------------------------------


def wire(obj: Any) -> Any:
    """`obj` encoded in MTProto's TL format and decoded again: what arrives from Telegram."""
    return TLObject.read(BytesIO(obj.write()))



def private_message(client: Client, user_id: int, text: str, *, first_name: str = "Ann", message_id: int = 1) -> types.Message:
    user = types.User(id=user_id, is_bot=False, first_name=first_name, username=f"u{user_id}", client=client)
    chat = types.Chat(id=user_id, type=enums.ChatType.PRIVATE, first_name=first_name, client=client)
    return types.Message(id=message_id, chat=chat, from_user=user, text=text, date=datetime.now(UTC), client=client)


def group_message(client: Client, user_id: int, text: str, *, chat_id: int = -4001, message_id: int = 1) -> types.Message:
    user = types.User(id=user_id, is_bot=False, first_name="Gus", client=client)
    chat = types.Chat(id=chat_id, type=enums.ChatType.GROUP, title="Fans", client=client)
    return types.Message(id=message_id, chat=chat, from_user=user, text=text, date=datetime.now(UTC), client=client)


TEST_TELEGRAM = {
    "telegram_api_id": 12345,
    "telegram_api_hash": "0123456789abcdef0123456789abcdef",
    "telegram_bot_token": "123456:" + "A" * 35,
}
