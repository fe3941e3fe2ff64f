"""studybot: a study-group bot for Telegram (see README.md)."""

from bot.sqlitelib import memory_statistics_off

# Before any of the bot's modules imports sqlite3, which starts the library: bot/sqlitelib.py says why.
SQLITE_MEMORY_STATISTICS_OFF = memory_statistics_off()
