"""`python -m bench.robots [-n 500]`: robot channels due in one minute, per-robot limits on, against the stand-ins.

Reports the time from the tick to the last post and the platforms' rate-limit refusals (goal 0). Real clock, real
HTTP on 127.0.0.1; every channel is its own robot, a third each WeCom, DingTalk (signed) and Feishu (signed).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.config import build_config
from bot.robots.push import RobotPusher
from bot.robots.standin import RobotStandIn
from bot.services import build_services

KINDS = ("wecom", "dingtalk", "feishu")
SECRET = "SECbench-0123456789abcdef"


async def run(n: int, workdir: Path) -> dict[str, float]:
    async with RobotStandIn() as robots:
        now = datetime.now(UTC)
        if now.minute % 30 == 0:  # Feishu posts stay off :00 and :30; measure outside them
            await asyncio.sleep(61 - now.second)
            now = datetime.now(UTC)
        channels = []
        made = []
        for i in range(n):
            kind = KINDS[i % 3]
            robot = robots.add(kind, secret="" if kind == "wecom" else SECRET)
            made.append(robot)
            entry = {"name": f"c{i}", "kind": kind, "webhook": robots.url(robot), "time": f"{now:%H:%M}",
                     "timezone": "UTC"}
            if kind != "wecom":
                entry["secret"] = SECRET
            channels.append(entry)
        config = build_config({"database": str(workdir / "bench.db"), "channels": channels}, "bench", workdir, env={})
        svc = build_services(config)
        pusher = RobotPusher(svc)
        try:
            began = time.perf_counter()
            delivered = await pusher.tick()
            elapsed = time.perf_counter() - began
            recorded = svc.store.delivery_counts().get("sent", 0)  # day records in the shared push ledger
        finally:
            await pusher.aclose()
            svc.db.close()
        posts = sum(len(r.posts) for r in made)
        limited = sum(1 for r in made for code in r.refused if code in (45009, 130101, 11232))
        return {"channels": n, "delivered": len(delivered), "recorded": recorded, "posts": posts, "seconds": elapsed,
                "rate_limit_errors": limited, "other_refusals": sum(len(r.refused) for r in made) - limited}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.robots", description=__doc__)
    parser.add_argument("-n", type=int, default=500, help="channels due in the same minute (default 500)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        result = asyncio.run(run(args.n, Path(work)))
    print(f"{result['channels']} robot channels due in one minute: {result['delivered']} delivered "
          f"({result['recorded']} recorded sent in the push ledger), "
          f"{result['posts']} posts in {result['seconds']:.2f} s; platform rate-limit errors: "
          f"{result['rate_limit_errors']}; other refusals: {result['other_refusals']}")


if __name__ == "__main__":
    main()
