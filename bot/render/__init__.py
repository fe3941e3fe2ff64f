"""Every Chinese text the bot shows, rendered as Telegram HTML. Wording lives here and only here.

One module per concern; callers use `render.<name>` and need not know which module a text lives in.
"""

from bot.render.buttons import *  # noqa: F403
from bot.render.core import *  # noqa: F403
from bot.render.help import *  # noqa: F403
from bot.render.lookup import *  # noqa: F403
from bot.render.offline import *  # noqa: F403
from bot.render.quiz import *  # noqa: F403
from bot.render.readings import *  # noqa: F403
from bot.render.records import *  # noqa: F403
from bot.render.refs import *  # noqa: F403
from bot.render.reports import *  # noqa: F403
from bot.render.review import *  # noqa: F403
from bot.render.robots import *  # noqa: F403
from bot.render.settings import *  # noqa: F403
from bot.render.views import *  # noqa: F403
