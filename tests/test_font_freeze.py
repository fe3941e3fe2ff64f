"""The start-up font check's imports join the objects frozen at start-up (bot.runner.check_fonts)."""

from __future__ import annotations

import gc

from bot.runner import check_fonts


async def test_the_font_check_freezes_what_it_imported_in_a_process_that_froze_its_start_up() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        await check_fonts()
        # matplotlib's font machinery (imported or first used here) and whatever else was young is now frozen.
        assert gc.get_freeze_count() > frozen
        assert len(gc.get_objects(generation=0)) < 1000
    finally:
        gc.unfreeze()


async def test_the_font_check_freezes_nothing_in_a_process_that_did_not_freeze() -> None:
    gc.unfreeze()
    await check_fonts()
    assert gc.get_freeze_count() == 0
