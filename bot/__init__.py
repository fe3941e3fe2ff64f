"""studybot: a study-group bot for Telegram (see README.md)."""

from bot.sqlitelib import memory_statistics_off

# On the bot's first import, before any of its modules imports sqlite3 or starts a thread: bot/sqlitelib.py says why.
SQLITE_MEMORY_STATISTICS_OFF = memory_statistics_off()
