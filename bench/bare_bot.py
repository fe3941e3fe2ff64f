"""A bare python-telegram-bot that only answers /start: the start-up baseline, run as a child process.

`TELEGRAM_BOT_TOKEN=... python -m bench.bare_bot BASE_URL`. It imports nothing from studybot, so its start-up
time and memory are python-telegram-bot's own.
"""

from __future__ import annotations

import sys

from telegram import Update
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

# The same list as bench.common.BASELINE_UPDATES, repeated so that this program imports nothing from the repo.
ALLOWED = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER, Update.POLL_ANSWER, Update.POLL]


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text("你好")


def main(argv: list[str]) -> int:
    import os

    if len(argv) != 1:
        print("usage: python -m bench.bare_bot BASE_URL (token in TELEGRAM_BOT_TOKEN)", file=sys.stderr)
        return 2
    app = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).base_url(argv[0]).build()
    app.add_handler(CommandHandler("start", start))
    app.run_polling(allowed_updates=ALLOWED)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
