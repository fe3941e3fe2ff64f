"""The Bot API methods the stand-in implements: parameter decoding, Telegram's validation rules, world updates."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.standin.entities import EntityParseError, ParsedText, parse_html, strip_text, utf16_len
from bot.standin.state import JSON, ApiError, ChatState, PollState, SentRecord, Upload, World

MAX_TEXT = 4096
MAX_CAPTION = 1024
CHAT_ACTIONS = frozenset({"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                          "upload_document", "choose_sticker", "find_location", "record_video_note",
                          "upload_video_note"})
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


class Params:
    """Request parameters as PTB sends them: form strings (JSON-encoded lists/objects) or JSON-body values."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def get_str(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise ApiError(400, f"Bad Request: {name} is empty")
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def get_int(self, name: str, *, required: bool = False) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise ApiError(400, f"Bad Request: {name} is empty")
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def get_float(self, name: str) -> float | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def get_bool(self, name: str, default: bool) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1")

    def get_json(self, name: str) -> Any:
        value = self.data.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
        return value

    def chat_ref(self) -> int | str:
        value = self.data.get("chat_id")
        if isinstance(value, str) and value.startswith("@"):
            return value
        chat_id = self.get_int("chat_id", required=True)
        assert chat_id is not None
        return chat_id


def formatted(p: Params, key: str, mode_key: str, entities_key: str) -> ParsedText:
    """Text after parse-mode handling and Telegram's whitespace trimming (may be empty)."""
    raw = p.get_str(key) or ""
    mode = (p.get_str(mode_key) or "").lower()
    if mode == "html":
        try:
            parsed = parse_html(raw)
        except EntityParseError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    elif mode in ("", "markdown", "markdownv2"):
        # Markdown is passed through unchecked; the bot renders HTML.
        given = p.get_json(entities_key) if not mode else None
        parsed = ParsedText(raw, tuple(given) if isinstance(given, list) else ())
    else:
        raise ApiError(400, "Bad Request: unsupported parse_mode")
    return strip_text(parsed)


def message_text(p: Params) -> ParsedText:
    parsed = formatted(p, "text", "parse_mode", "entities")
    if not parsed.text:
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(parsed.text) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    return parsed


def inline_markup(p: Params) -> JSON | None:
    """The inline keyboard to show on the message (other keyboard kinds are accepted but not shown)."""
    markup = p.get_json("reply_markup")
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ApiError(400, "Bad Request: can't parse inline keyboard button: field \"inline_keyboard\" must be "
                            "an Array of Arrays")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text must be non-empty")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if len(set(button) - {"text"}) != 1:
                raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text buttons are "
                                    "unallowed in the inline keyboard")
    return markup if rows else None


def replied_message(p: Params, chat: ChatState) -> JSON | None:
    params = p.get_json("reply_parameters")
    if not isinstance(params, dict):
        legacy = p.get_int("reply_to_message_id")
        if legacy is None:
            return None
        params = {"message_id": legacy, "allow_sending_without_reply": p.get_bool("allow_sending_without_reply",
                                                                                     False)}
    found = chat.messages.get(int(params.get("message_id", 0)))
    if found is None:
        if params.get("allow_sending_without_reply"):
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")
    return {k: v for k, v in found.items() if k != "reply_to_message"}


def _content(text: ParsedText, markup: JSON | None) -> JSON:
    fields: JSON = {"text": text.text}
    if text.entities:
        fields["entities"] = list(text.entities)
    if markup:
        fields["reply_markup"] = markup
    return fields


class BotApi:
    """Dispatches ``method`` + params to the implementation; raises ApiError for error answers."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.webhook_url = ""
        self.webhook_secret = ""
        self._handlers: dict[str, Callable[[Params], Awaitable[Any]]] = {
            name[len("m_"):].lower(): getattr(self, name) for name in dir(self) if name.startswith("m_")
        }

    async def call(self, method: str, data: Mapping[str, Any]) -> Any:
        handler = self._handlers.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        return await handler(Params(data))

    def _sendable(self, p: Params) -> ChatState:
        chat = self.world.target(p.chat_ref())
        self.world.check_can_send(chat)
        return chat

    def _own_message(self, p: Params, missing: str) -> tuple[ChatState, JSON]:
        if p.has("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the stand-in")
        chat = self._sendable(p)
        message = chat.messages.get(p.get_int("message_id", required=True) or 0)
        if message is None:
            raise ApiError(400, f"Bad Request: {missing}")
        if message.get("from", {}).get("id") != self.world.bot.id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, message

    def _log_edit(self, method: str, chat: ChatState, message: JSON) -> JSON:
        message["edit_date"] = int(self.world.clock())
        self.world.record(SentRecord(method, chat.id, message["message_id"], self.world.clock(),
                                     text=message.get("text"), entities=tuple(message.get("entities", ())),
                                     reply_markup=message.get("reply_markup"), poll=message.get("poll"),
                                     message=dict(message)))
        return dict(message)

    # ----- bot identity and updates -----
    async def m_getMe(self, p: Params) -> JSON:
        return {**self.world.bot.to_api(), "can_join_groups": True,
                "can_read_all_group_messages": not self.world.privacy_mode, "supports_inline_queries": False,
                "can_connect_to_business": False, "has_main_web_app": False}

    async def m_setWebhook(self, p: Params) -> bool:
        secret = p.get_str("secret_token") or ""
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_url = p.get_str("url") or ""
        self.webhook_secret = secret  # a test posts updates with it, as Telegram would
        return True

    async def m_deleteWebhook(self, p: Params) -> bool:
        self.webhook_url = ""
        if p.get_bool("drop_pending_updates", False):
            self.world.updates.clear()
        return True

    async def m_getWebhookInfo(self, p: Params) -> JSON:
        return {"url": self.webhook_url, "has_custom_certificate": False,
                "pending_update_count": len(self.world.updates)}

    async def m_getUpdates(self, p: Params) -> list[JSON]:
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use "
                                "deleteWebhook to delete the webhook first")
        limit = min(100, max(1, p.get_int("limit") or 100))
        allowed = p.get_json("allowed_updates")
        return await self.world.get_updates(p.get_int("offset"), limit, p.get_float("timeout") or 0.0,
                                            allowed if isinstance(allowed, list) else None)

    # ----- messages -----
    async def m_sendMessage(self, p: Params) -> JSON:
        chat = self._sendable(p)
        fields = _content(message_text(p), inline_markup(p))
        reply = replied_message(p, chat)
        if reply:
            fields["reply_to_message"] = reply
        return self.world.deliver(chat, fields, method="sendMessage")

    def _upload(self, p: Params, field: str) -> Upload:
        value = p.data.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.data.get(value[len("attach://"):])
        if not isinstance(value, Upload):
            raise ApiError(400, f"Bad Request: there is no {field} in the request")  # file ids/URLs: not kept here
        if not value.data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        return value

    def _caption(self, p: Params) -> JSON:
        caption = formatted(p, "caption", "parse_mode", "caption_entities")
        if utf16_len(caption.text) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        fields: JSON = {}
        if caption.text:
            fields["caption"] = caption.text
            if caption.entities:
                fields["caption_entities"] = list(caption.entities)
        return fields

    async def m_sendDocument(self, p: Params) -> JSON:
        chat = self._sendable(p)
        upload = self._upload(p, "document")
        fields = {**self._caption(p), "document": {
            "file_id": f"doc-{len(upload.data)}-{upload.filename}", "file_unique_id": f"u{len(upload.data)}",
            "file_name": upload.filename, "file_size": len(upload.data)}}
        return self.world.deliver(chat, fields, method="sendDocument", upload=upload)

    async def m_sendPhoto(self, p: Params) -> JSON:
        chat = self._sendable(p)
        upload = self._upload(p, "photo")
        if not upload.data.startswith((b"\x89PNG", b"\xff\xd8")):
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        fields = {**self._caption(p), "photo": [{"file_id": f"photo-{len(upload.data)}", "file_unique_id": "p1",
                                                "width": 800, "height": 600, "file_size": len(upload.data)}]}
        return self.world.deliver(chat, fields, method="sendPhoto", upload=upload)

    async def m_editMessageText(self, p: Params) -> JSON:
        chat, message = self._own_message(p, "message to edit not found")
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        fields = _content(message_text(p), inline_markup(p))
        current = {k: message[k] for k in ("text", "entities", "reply_markup") if k in message}
        if fields == current:
            raise ApiError(400, NOT_MODIFIED)
        for key in ("entities", "reply_markup"):
            message.pop(key, None)
        message.update(fields)
        return self._log_edit("editMessageText", chat, message)

    async def m_editMessageReplyMarkup(self, p: Params) -> JSON:
        chat, message = self._own_message(p, "message to edit not found")
        markup = inline_markup(p)
        if markup == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return self._log_edit("editMessageReplyMarkup", chat, message)

    async def m_deleteMessage(self, p: Params) -> bool:
        chat = self._sendable(p)
        message_id = p.get_int("message_id", required=True) or 0
        if chat.messages.pop(message_id, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        self.world.record(SentRecord("deleteMessage", chat.id, message_id, self.world.clock()))
        return True

    async def m_answerCallbackQuery(self, p: Params) -> bool:
        query_id = p.get_str("callback_query_id", required=True) or ""
        if query_id not in self.world.callback_answers or self.world.callback_answers[query_id] is not None:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.world.callback_answers[query_id] = {"text": p.get_str("text"), "show_alert": p.get_bool(
            "show_alert", False), "url": p.get_str("url"), "cache_time": p.get_int("cache_time")}
        return True

    async def m_sendChatAction(self, p: Params) -> bool:
        self._sendable(p)
        if p.get_str("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    # ----- polls -----
    def _poll_options(self, p: Params) -> list[str]:
        raw = p.get_json("options")
        if not isinstance(raw, list):
            raise ApiError(400, "Bad Request: can't parse options JSON object")
        options: list[str] = []
        for item in raw:
            if isinstance(item, dict):
                sub = Params(item)
                text = formatted(sub, "text", "text_parse_mode", "text_entities").text
            else:
                text = str(item).strip()
            if not text:
                raise ApiError(400, "Bad Request: poll options must be non-empty")
            if utf16_len(text) > 100:
                raise ApiError(400, "Bad Request: poll options length must not exceed 100")
            options.append(text)
        if len(options) < 2:
            raise ApiError(400, "Bad Request: poll must have at least 2 option")
        if len(options) > 10:
            raise ApiError(400, "Bad Request: poll can't have more than 10 options")
        if len(set(options)) != len(options):
            raise ApiError(400, "Bad Request: POLL_OPTION_DUPLICATE")
        return options

    def _quiz_answers(self, p: Params, n_options: int, multiple: bool) -> tuple[int, ...]:
        ids = p.get_json("correct_option_ids")
        if ids is None and p.has("correct_option_id"):
            ids = [p.get_int("correct_option_id")]
        if not ids:
            raise ApiError(400, "Bad Request: QUIZ_CORRECT_ANSWERS_EMPTY")
        if (not isinstance(ids, list) or not all(isinstance(i, int) and 0 <= i < n_options for i in ids)
                or len(set(ids)) != len(ids) or (len(ids) > 1 and not multiple)):
            raise ApiError(400, "Bad Request: wrong correct option id specified")
        return tuple(ids)

    async def m_sendPoll(self, p: Params) -> JSON:
        chat = self._sendable(p)
        question = formatted(p, "question", "question_parse_mode", "question_entities")
        if not question.text:
            raise ApiError(400, "Bad Request: poll question must be non-empty")
        if utf16_len(question.text) > 300:
            raise ApiError(400, "Bad Request: poll question length must not exceed 300")
        options = self._poll_options(p)
        kind = p.get_str("type") or "regular"
        if kind not in ("regular", "quiz"):
            raise ApiError(400, "Bad Request: wrong poll type specified")
        multiple = p.get_bool("allows_multiple_answers", False)
        correct = self._quiz_answers(p, len(options), multiple) if kind == "quiz" else ()
        explanation = formatted(p, "explanation", "explanation_parse_mode", "explanation_entities").text
        if utf16_len(explanation) > 200:
            raise ApiError(400, "Bad Request: poll explanation length must not exceed 200")
        if explanation.count("\n") > 2:
            raise ApiError(400, "Bad Request: poll explanation can't contain more than 2 line feeds")
        now = self.world.clock()
        open_period = p.get_int("open_period")
        close_date = p.get_int("close_date")
        if open_period is not None and not 5 <= open_period <= 2_628_000:
            raise ApiError(400, "Bad Request: wrong open_period specified")
        if open_period is None and close_date is not None and not 5 <= close_date - now <= 2_628_000:
            raise ApiError(400, "Bad Request: wrong close_date specified")
        close_at = now + open_period if open_period is not None else close_date
        poll = PollState(self.world.new_poll_id(), chat.id, 0, question.text, options, kind,
                         p.get_bool("is_anonymous", True), multiple, correct,
                         explanation if kind == "quiz" and explanation else None, open_period,
                         float(close_at) if close_at is not None else None, p.get_bool("is_closed", False))
        fields: JSON = {"poll": poll.to_api()}
        markup = inline_markup(p)
        if markup:
            fields["reply_markup"] = markup
        reply = replied_message(p, chat)
        if reply:
            fields["reply_to_message"] = reply
        message = self.world.deliver(chat, fields, method="sendPoll", poll=poll)
        poll.message_id = message["message_id"]
        self.world.polls[poll.id] = poll
        if poll.close_at is not None and not poll.is_closed:
            self.world.schedule_poll_close(poll, poll.close_at - now)
        return message

    async def m_stopPoll(self, p: Params) -> JSON:
        chat, message = self._own_message(p, "message with poll to stop not found")
        if "poll" not in message:
            raise ApiError(400, "Bad Request: message with poll to stop not found")
        if message["poll"]["is_closed"]:
            raise ApiError(400, "Bad Request: poll has already been closed")
        result = self.world.close_poll(message["poll"]["id"])
        markup = inline_markup(p)
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        self._log_edit("stopPoll", chat, message)
        return result

    # ----- chats and members -----
    def _group_info(self, p: Params) -> ChatState:
        chat = self.world.target(p.chat_ref())
        if chat.type != "private":
            self.world.check_can_send(chat)
        return chat

    async def m_getChat(self, p: Params) -> JSON:
        chat = self._group_info(p)
        info: JSON = {**self.world.chat_api(chat), "accent_color_id": 0, "max_reaction_count": 11,
                      "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                              "unique_gifts": False, "premium_subscription": False,
                                              "gifts_from_channels": False}}
        if chat.type != "private":
            info["permissions"] = {"can_send_messages": True, "can_send_polls": True, "can_invite_users": True}
        return info

    async def m_getChatMember(self, p: Params) -> JSON:
        chat = self._group_info(p)
        user_id = p.get_int("user_id", required=True) or 0
        return self.world.member_api(chat, user_id)

    async def m_getChatAdministrators(self, p: Params) -> list[JSON]:
        chat = self._group_info(p)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        return [self.world.member_api(chat, uid) for uid, status in chat.members.items()
                if status in ("creator", "administrator")]

    async def m_getChatMemberCount(self, p: Params) -> int:
        chat = self._group_info(p)
        return sum(1 for s in chat.members.values() if s in ("creator", "administrator", "member", "restricted"))

    async def m_leaveChat(self, p: Params) -> bool:
        chat = self._sendable(p)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        self.world.set_status(chat.id, self.world.bot.id, "left", by_user=self.world.bot)
        return True

    # ----- commands -----
    def _scope_key(self, p: Params) -> tuple[str, str]:
        scope = p.get_json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), p.get_str("language_code") or ""

    async def m_setMyCommands(self, p: Params) -> bool:
        commands = p.get_json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for cmd in commands:
            if not isinstance(cmd, dict) or not _COMMAND_NAME.fullmatch(str(cmd.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.world.commands[self._scope_key(p)] = [
            {"command": c["command"], "description": c["description"]} for c in commands]
        return True

    async def m_getMyCommands(self, p: Params) -> list[JSON]:
        return list(self.world.commands.get(self._scope_key(p), []))

    async def m_deleteMyCommands(self, p: Params) -> bool:
        self.world.commands.pop(self._scope_key(p), None)
        return True

