"""studybot's benchmark suite: `python -m bench` (see bench/__main__.py).

Every figure is measured against a bare python-telegram-bot baseline doing the same Telegram work, in the same
process run, against the same in-process Bot API stand-in, so machine noise and the stand-in's own cost hit both.
"""
