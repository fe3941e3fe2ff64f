"""The fake Telegram world behind the stand-in: users, chats, members, messages, polls and the update queue.

Driver-side methods (``user_sends``, ``user_presses`` ...) are plain methods meant to be called from tests on the
stand-in's event loop.  Everything the bot does lands in a per-chat log of ``SentRecord`` for assertions.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.standin.entities import command_entities
from bot.standin.limits import Clock, FloodLimits, TrafficStats

JSON = dict[str, Any]
# Telegram's GroupAnonymousBot, the sender of anonymous admins' messages. Written out here, not taken from PTB as the
# bot takes it (telegram.constants.ChatID.ANONYMOUS_ADMIN): the stand-in plays Telegram, so the tests check the bot
# against an independent statement of the fact.
ANONYMOUS_ADMIN_ID = 1087968824
SUPERGROUP_BASE = 1_000_000_000_000  # supergroup ids are -100xxxxxxxxxx
DEFAULT_ALLOWED = frozenset(
    {"message", "edited_message", "channel_post", "edited_channel_post", "callback_query", "poll",
     "poll_answer", "my_chat_member", "inline_query", "chosen_inline_result", "chat_join_request"}
)  # Telegram's default leaves out chat_member and reactions
MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status = ``code``."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str = ""
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "zh-hans"
    is_bot: bool = False

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name or f"User{self.id}"}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


UserLike = int | FakeUser


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded (multipart field with a file name)."""

    filename: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class SentRecord:
    """One thing the bot did to a chat (send, edit, delete, stop poll), in order."""

    method: str
    chat_id: int
    message_id: int
    timestamp: float
    text: str | None = None
    entities: tuple[JSON, ...] = ()
    reply_markup: JSON | None = None
    poll: JSON | None = None
    reply_to_message_id: int | None = None
    message: JSON | None = None
    file: Upload | None = None  # sendDocument / sendPhoto: what was uploaded


@dataclass
class ChatState:
    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    username: str | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> status
    messages: dict[int, JSON] = field(default_factory=dict)
    next_message_id: int = 1
    migrated_to: int | None = None
    blocked: bool = False  # private chat: the user blocked the bot

    def new_message_id(self) -> int:
        self.next_message_id += 1
        return self.next_message_id - 1


@dataclass
class PollState:
    id: str
    chat_id: int
    message_id: int
    question: str
    options: list[str]
    type: str
    is_anonymous: bool
    allows_multiple_answers: bool
    correct_option_ids: tuple[int, ...] = ()
    explanation: str | None = None
    open_period: int | None = None
    close_at: float | None = None
    is_closed: bool = False
    votes: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def persistent_id(self, index: int) -> str:
        return f"{self.id}-{index}"

    def to_api(self) -> JSON:
        counts = [0] * len(self.options)
        for chosen in self.votes.values():
            for i in chosen:
                counts[i] += 1
        data: JSON = {
            "id": self.id,
            "question": self.question,
            "options": [
                {"persistent_id": self.persistent_id(i), "text": t, "voter_count": counts[i]}
                for i, t in enumerate(self.options)
            ],
            "total_voter_count": sum(1 for v in self.votes.values() if v),
            "is_closed": self.is_closed,
            "is_anonymous": self.is_anonymous,
            "type": self.type,
            "allows_multiple_answers": self.allows_multiple_answers,
            "allows_revoting": self.type != "quiz",
            "members_only": False,
        }
        if self.type == "quiz":
            data["correct_option_ids"] = list(self.correct_option_ids)
        if self.explanation:
            data["explanation"] = self.explanation
        if self.open_period:
            data["open_period"] = self.open_period
        if self.close_at is not None:
            data["close_date"] = int(self.close_at)
        return data


class Outbox:
    """Async iterator over records as the bot produces them; subscribed from creation until ``close()``."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._queue: asyncio.Queue[SentRecord] = asyncio.Queue()
        world._outboxes.append(self._queue)

    def __aiter__(self) -> Outbox:
        return self

    async def __anext__(self) -> SentRecord:
        return await self._queue.get()

    def pending(self) -> list[SentRecord]:
        """Records produced but not yet taken, in order (taking them)."""
        found = []
        while not self._queue.empty():
            found.append(self._queue.get_nowait())
        return found

    def close(self) -> None:
        if self._queue in self._world._outboxes:
            self._world._outboxes.remove(self._queue)


class World:
    """All state of the fake Telegram, shared by the HTTP methods and the test driver."""

    def __init__(
        self,
        bot_id: int,
        bot_username: str,
        *,
        bot_name: str = "StudyBot",
        clock: Clock,
        limits: FloodLimits,
        privacy_mode: bool = True,
        strict_chats: bool = False,
        first_id: int = 1,
    ) -> None:
        self.bot = FakeUser(bot_id, bot_name, bot_username, is_bot=True, language_code=None)
        self.clock = clock
        self.limits = limits
        self.stats: TrafficStats = limits.stats
        self.privacy_mode = privacy_mode
        self.strict_chats = strict_chats
        self.users: dict[int, FakeUser] = {bot_id: self.bot}
        self.chats: dict[int, ChatState] = {}
        self.polls: dict[str, PollState] = {}
        self.callback_answers: dict[str, JSON | None] = {}  # query id -> answer (None = not answered yet)
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (scope json, language) -> commands
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED
        self.updates: deque[JSON] = deque()
        self._log: dict[int, list[SentRecord]] = {}
        # Poll and callback ids; a caller whose bot keeps state across runs (the offline chat) starts them elsewhere.
        self._ids = itertools.count(first_id)
        self._update_ids = itertools.count(1)
        self._updates_changed = asyncio.Event()
        self._sent_changed = asyncio.Event()
        self._outboxes: list[asyncio.Queue[SentRecord]] = []
        self._timers: list[asyncio.TimerHandle] = []
        # Users who never opened a private chat with the bot: sending to them is refused, as Telegram does,
        # until they write to the bot in private (e.g. /start through a deep link).
        self.unstarted: set[int] = set()

    # ----- users, chats, members -------------------------------------------------------------------------------
    def user(self, user: UserLike) -> FakeUser:
        """Register (or look up) a user; an int becomes a plain user with that id."""
        if isinstance(user, FakeUser):
            self.users[user.id] = user
            return user
        return self.users.setdefault(user, FakeUser(user))

    def chat(self, chat_id: int, *, title: str | None = None) -> ChatState:
        """Get a chat, creating it on demand (positive id: private; -100… id: supergroup; else group)."""
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat = ChatState(chat_id, "private", members={chat_id: "member", self.bot.id: "member"})
                self.user(chat_id)
            else:
                kind = "supergroup" if chat_id <= -SUPERGROUP_BASE else "group"
                chat = ChatState(chat_id, kind, title or f"Group {abs(chat_id)}", members={self.bot.id: "member"})
            self.chats[chat_id] = chat
        return chat

    def chat_api(self, chat: ChatState) -> JSON:
        if chat.type == "private":
            data = self.users[chat.id].to_api()
            data.pop("is_bot", None)
            data.pop("language_code", None)
            return {**data, "type": "private"}
        return {"id": chat.id, "type": chat.type, "title": chat.title}

    def status(self, chat_id: int, user_id: int) -> str:
        return self.chat(chat_id).members.get(user_id, "left")

    def member_api(self, chat: ChatState, user_id: int) -> JSON:
        """A ChatMember object with every field PTB 22.8 requires for its status."""
        status = chat.members.get(user_id, "left")
        user = self.user(user_id).to_api()
        if status == "creator":
            return {"status": status, "user": user, "is_anonymous": False}
        if status == "administrator":
            flags = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
                     "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
                     "can_delete_stories", "can_pin_messages")
            return {"status": status, "user": user, "can_be_edited": False,
                    "is_anonymous": False, "can_promote_members": False, "can_manage_topics": False,
                    "can_manage_direct_messages": False, **dict.fromkeys(flags, True)}
        if status == "kicked":
            return {"status": status, "user": user, "until_date": 0}
        if status == "restricted":
            perms = ("can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
                     "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
                     "can_send_other_messages", "can_add_web_page_previews", "can_change_info",
                     "can_invite_users", "can_pin_messages", "can_manage_topics", "can_edit_tag",
                     "can_react_to_messages")
            return {"status": status, "user": user, "is_member": True, "until_date": 0, **dict.fromkeys(perms, False)}
        return {"status": status, "user": user}

    def set_status(self, chat_id: int, user: UserLike, status: str, *, by_user: UserLike | None = None) -> None:
        """Set a member's status; for the bot itself this emits a ``my_chat_member`` update like Telegram."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        chat, member = self.chat(chat_id), self.user(user)
        old = self.member_api(chat, member.id)
        chat.members[member.id] = status
        if old["status"] == status:
            return
        actor = self.user(by_user) if by_user is not None else self._chat_owner(chat)
        change = {"chat": self.chat_api(chat), "from": actor.to_api(), "date": int(self.clock()),
                  "old_chat_member": old, "new_chat_member": self.member_api(chat, member.id)}
        if member.id == self.bot.id:
            self.enqueue("my_chat_member", change)
        elif chat.type != "private" and chat.members.get(self.bot.id) in ("administrator", "creator"):
            # Telegram tells only admin bots about other members, and only if they asked (allowed_updates).
            self.enqueue("chat_member", change)

    def _chat_owner(self, chat: ChatState) -> FakeUser:
        owner = next((uid for uid, s in chat.members.items() if s == "creator"), None)
        return self.users[owner] if owner is not None else self.user(chat.id if chat.id > 0 else 1)

    # ----- bot-side checks and delivery ------------------------------------------------------------------------
    def target(self, chat_ref: int | str) -> ChatState:
        """Resolve the chat a bot request names, raising the errors Telegram would."""
        if isinstance(chat_ref, str):
            found = next((c for c in self.chats.values() if c.username and f"@{c.username}" == chat_ref), None)
            if found is None:
                raise ApiError(400, "Bad Request: chat not found")
            chat = found
        elif chat_ref in self.unstarted or (chat_ref not in self.chats and self.strict_chats and chat_ref > 0):
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat_ref not in self.chats and (self.strict_chats or chat_ref == 0):
            raise ApiError(400, "Bad Request: chat not found")
        else:
            chat = self.chat(chat_ref)
        if chat.migrated_to is not None:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": chat.migrated_to})
        return chat

    def check_can_send(self, chat: ChatState) -> None:
        if chat.type == "private":
            if chat.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            return
        status = chat.members.get(self.bot.id, "left")
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        if status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")

    def deliver(self, chat: ChatState, fields: JSON, *, method: str, poll: PollState | None = None,
                upload: Upload | None = None) -> JSON:
        """Post a bot message into ``chat`` (after the flood check) and return the Message object."""
        retry_after = self.limits.acquire(chat.id, chat.type)
        if retry_after is not None:
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        message_id = chat.new_message_id()
        message: JSON = {"message_id": message_id, "from": self.bot.to_api(), "chat": self.chat_api(chat),
                         "date": int(self.clock()), **fields}
        chat.messages[message_id] = message
        self.stats.delivered[chat.id] += 1
        reply = fields.get("reply_to_message")
        self.record(SentRecord(
            method, chat.id, message_id, self.clock(), text=fields.get("text"),
            entities=tuple(fields.get("entities", ())), reply_markup=fields.get("reply_markup"),
            poll=poll.to_api() if poll else None,
            reply_to_message_id=reply["message_id"] if reply else None, message=dict(message), file=upload))
        return message

    def record(self, rec: SentRecord) -> None:
        self._log.setdefault(rec.chat_id, []).append(rec)
        self._sent_changed.set()
        self._sent_changed = asyncio.Event()
        for queue in self._outboxes:
            queue.put_nowait(rec)

    def new_poll_id(self) -> str:
        return str(5_000_000_000_000_000_000 + next(self._ids))

    def schedule_poll_close(self, poll: PollState, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(max(0.0, delay), self.expire_polls))

    def expire_polls(self) -> list[str]:
        """Close polls whose open period has ended on the stand-in clock; return their ids."""
        now = self.clock()
        due = [p for p in self.polls.values() if not p.is_closed and p.close_at is not None and p.close_at <= now]
        for poll in due:
            self.close_poll(poll.id)
        return [p.id for p in due]

    def close_poll(self, poll_id: str) -> JSON:
        """Close a poll now (as open_period expiry or stopPoll does) and emit a ``poll`` update."""
        poll = self.polls[poll_id]
        if not poll.is_closed:
            poll.is_closed = True
            message = self.chats[poll.chat_id].messages.get(poll.message_id)
            if message is not None:
                message["poll"] = poll.to_api()
            self.enqueue("poll", poll.to_api())
        return poll.to_api()

    # ----- updates ---------------------------------------------------------------------------------------------
    def enqueue(self, kind: str, payload: JSON) -> int:
        update_id = next(self._update_ids)
        if kind not in self.allowed_updates:
            return update_id  # Telegram never creates updates of types the bot did not ask for
        self.updates.append({"update_id": update_id, kind: payload})
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()
        return update_id

    def confirm(self, offset: int) -> None:
        """getUpdates offset semantics: drop every update before ``offset``; negative keeps the last -offset."""
        if offset < 0:
            while len(self.updates) > -offset:
                self.updates.popleft()
            return
        while self.updates and self.updates[0]["update_id"] < offset:
            self.updates.popleft()

    async def get_updates(self, offset: int | None, limit: int, timeout: float, allowed: Iterable[str] | None
                          ) -> list[JSON]:
        if allowed is not None and (frozenset(allowed) or DEFAULT_ALLOWED) != self.allowed_updates:
            self.allowed_updates = frozenset(allowed) or DEFAULT_ALLOWED
            # Updates queued under the old list that the bot no longer asks for are dropped for good.
            self.updates = deque(u for u in self.updates if _kind(u) in self.allowed_updates)
        if offset is not None:
            self.confirm(offset)
        deadline = asyncio.get_running_loop().time() + max(0.0, timeout)
        while True:
            if self.updates:
                return list(itertools.islice(self.updates, limit))
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(self._updates_changed.wait(), remaining)
            except TimeoutError:
                return []

    # ----- driver side -----------------------------------------------------------------------------------------
    def _bot_sees(self, chat: ChatState, text: str, reply_to: JSON | None, entities: list[JSON]) -> bool:
        if chat.members.get(self.bot.id, "left") in ("left", "kicked") or chat.blocked:
            return False
        if chat.type == "private" or not self.privacy_mode:
            return True
        if reply_to is not None and reply_to.get("from", {}).get("id") == self.bot.id:
            return True
        # Privacy mode: only commands meant for this bot (bare /cmd or /cmd@this_bot) get through.
        for ent in entities:
            if ent["offset"] == 0:
                command = text[: ent["length"]]
                _, _, target = command.partition("@")
                return not target or target.lower() == (self.bot.username or "").lower()
        return False

    def user_sends(self, chat_id: int, user: UserLike, text: str, *, reply_to: int | None = None,
                   anonymous_admin: bool = False) -> JSON:
        """A user posts ``text`` in a chat; the bot gets a ``message`` update if it would see it. Returns it."""
        sender = self.user(user)
        chat = self.chat(chat_id)
        chat.members.setdefault(sender.id, "member")
        if chat_id == sender.id:
            self.unstarted.discard(sender.id)
        text = valid_text(text)
        entities = command_entities(text)
        message: JSON = {"message_id": chat.new_message_id(), "date": int(self.clock()),
                         "chat": self.chat_api(chat), "text": text}
        if anonymous_admin:
            message["from"] = FakeUser(ANONYMOUS_ADMIN_ID, "Group", "GroupAnonymousBot", is_bot=True,
                                       language_code=None).to_api()
            message["sender_chat"] = self.chat_api(chat)
        else:
            message["from"] = sender.to_api()
        if entities:
            message["entities"] = entities
        replied = None
        if reply_to is not None:
            replied = chat.messages.get(reply_to)
            if replied is None:
                raise ValueError(f"chat {chat_id} has no message {reply_to}")
            message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        chat.messages[message["message_id"]] = message
        if self._bot_sees(chat, text, replied, entities):
            self.enqueue("message", message)
        return message

    def user_presses(self, chat_id: int, user: UserLike, message_id: int, data: str) -> str:
        """A user presses an inline button; emits ``callback_query`` and returns its id."""
        chat = self.chat(chat_id)
        message = chat.messages.get(message_id)
        if message is None:
            raise ValueError(f"chat {chat_id} has no message {message_id}")
        query_id = str(4_000_000_000_000_000_000 + next(self._ids))
        self.callback_answers[query_id] = None
        self.enqueue("callback_query", {"id": query_id, "from": self.user(user).to_api(), "message": message,
                                        "chat_instance": str(abs(chat_id) * 7 + 1), "data": data})
        return query_id

    def user_answers_poll(self, poll_id: str, user: UserLike, option_ids: list[int]) -> None:
        """A user votes (``[]`` retracts); emits ``poll_answer`` (non-anonymous polls) and a ``poll`` update."""
        poll = self.polls[poll_id]
        voter = self.user(user)
        if poll.is_closed:
            raise ValueError(f"poll {poll_id} is closed")
        if any(not 0 <= i < len(poll.options) for i in option_ids) or len(set(option_ids)) != len(option_ids):
            raise ValueError(f"bad option ids {option_ids}")
        if len(option_ids) > 1 and not poll.allows_multiple_answers:
            raise ValueError("this poll takes one answer")
        if poll.type == "quiz" and poll.votes.get(voter.id):
            raise ValueError("quiz answers cannot be changed or retracted")
        poll.votes[voter.id] = tuple(option_ids)
        message = self.chats[poll.chat_id].messages.get(poll.message_id)
        if message is not None:
            message["poll"] = poll.to_api()
        if not poll.is_anonymous:
            self.enqueue("poll_answer", {
                "poll_id": poll.id, "user": voter.to_api(), "option_ids": list(option_ids),
                "option_persistent_ids": [poll.persistent_id(i) for i in option_ids]})
        self.enqueue("poll", poll.to_api())

    def add_bot_to_group(self, chat_id: int, title: str = "学习小组", by_user: UserLike = 1,
                         *, as_admin: bool = False) -> None:
        """``by_user`` (made creator if the group is new) adds the bot: ``my_chat_member`` + service message."""
        if chat_id >= 0:
            raise ValueError("group ids are negative")
        adder = self.user(by_user)
        chat = self.chat(chat_id, title=title)
        chat.title = title
        if chat.members.get(self.bot.id) != "kicked":
            chat.members[self.bot.id] = "left"  # so the update reads left -> member, as for a fresh add
        if not any(s == "creator" for s in chat.members.values()):
            chat.members[adder.id] = "creator"
        self.set_status(chat_id, self.bot.id, "administrator" if as_admin else "member", by_user=adder)
        message: JSON = {"message_id": chat.new_message_id(), "date": int(self.clock()),
                         "chat": self.chat_api(chat), "from": adder.to_api(), "new_chat_members": [self.bot.to_api()]}
        chat.messages[message["message_id"]] = message
        self.enqueue("message", message)

    def user_joins(self, chat_id: int, user: UserLike, *, by_user: UserLike | None = None) -> JSON:
        """A user joins (or ``by_user`` adds them): their status, a ``chat_member`` update, the service message."""
        member = self.user(user)
        adder = self.user(by_user) if by_user is not None else member
        chat = self.chat(chat_id)
        self.set_status(chat_id, member.id, "member", by_user=adder)
        message: JSON = {"message_id": chat.new_message_id(), "date": int(self.clock()),
                         "chat": self.chat_api(chat), "from": adder.to_api(), "new_chat_members": [member.to_api()]}
        chat.messages[message["message_id"]] = message
        if chat.members.get(self.bot.id) not in ("left", "kicked"):
            self.enqueue("message", message)
        return message

    def user_leaves(self, chat_id: int, user: UserLike, *, kicked_by: UserLike | None = None) -> JSON:
        """A user leaves (or ``kicked_by`` removes them): status, a ``chat_member`` update, the service message."""
        member = self.user(user)
        actor = self.user(kicked_by) if kicked_by is not None else member
        chat = self.chat(chat_id)
        self.set_status(chat_id, member.id, "kicked" if kicked_by is not None else "left", by_user=actor)
        message: JSON = {"message_id": chat.new_message_id(), "date": int(self.clock()),
                         "chat": self.chat_api(chat), "from": actor.to_api(), "left_chat_member": member.to_api()}
        chat.messages[message["message_id"]] = message
        if chat.members.get(self.bot.id) not in ("left", "kicked"):
            self.enqueue("message", message)
        return message

    def remove_bot(self, chat_id: int, kicked: bool = True, *, by_user: UserLike | None = None) -> None:
        """The bot is kicked (or leaves); later sends there get 403."""
        self.set_status(chat_id, self.bot.id, "kicked" if kicked else "left", by_user=by_user)

    def user_blocks_bot(self, user: UserLike) -> None:
        chat = self.chat(self.user(user).id)
        old = self.member_api(chat, self.bot.id)
        chat.blocked = True
        self.enqueue("my_chat_member", {
            "chat": self.chat_api(chat), "from": self.users[chat.id].to_api(), "date": int(self.clock()),
            "old_chat_member": old, "new_chat_member": {**old, "status": "kicked", "until_date": 0}})

    def set_admin(self, chat_id: int, user: UserLike) -> None:
        self.set_status(chat_id, user, "administrator")

    def migrate_group(self, chat_id: int) -> int:
        """Upgrade a group to a supergroup: both service messages, members carried over; returns the new id."""
        old = self.chat(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise ValueError(f"chat {chat_id} is not a basic group")
        new_id = -(SUPERGROUP_BASE + abs(chat_id))
        new = ChatState(new_id, "supergroup", old.title, members=dict(old.members))
        self.chats[new_id] = new
        actor = self._chat_owner(old).to_api()
        for chat, key, value in ((old, "migrate_to_chat_id", new_id), (new, "migrate_from_chat_id", chat_id)):
            message: JSON = {"message_id": chat.new_message_id(), "date": int(self.clock()),
                             "chat": self.chat_api(chat), "from": actor, key: value}
            chat.messages[message["message_id"]] = message
            if chat.members.get(self.bot.id) not in ("left", "kicked"):
                self.enqueue("message", message)
        old.migrated_to = new_id
        return new_id

    def sent(self, chat_id: int, method: str | None = None) -> list[SentRecord]:
        """The bot's actions in ``chat_id`` in order, optionally only one method (e.g. "sendMessage")."""
        log = self._log.get(chat_id, [])
        return [r for r in log if r.method == method] if method else list(log)

    async def wait_for_sent(self, chat_id: int, count: int, timeout: float = 5.0,
                            method: str | None = None) -> list[SentRecord]:
        """Wait until ``chat_id`` has at least ``count`` records; raise TimeoutError otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(records := self.sent(chat_id, method)) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"chat {chat_id}: {len(records)} of {count} records after {timeout}s")
            try:
                await asyncio.wait_for(self._sent_changed.wait(), remaining)
            except TimeoutError:
                continue
        return records

    def outbox(self) -> Outbox:
        return Outbox(self)

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()


def valid_text(text: str) -> str:
    """Text as Telegram would carry it: lone surrogates (undecodable input bytes) become U+FFFD."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def _kind(update: JSON) -> str:
    return next(k for k in update if k != "update_id")

