"""`running_loop()`: the loop running in this thread, or None (never raises), for code called from both."""

import asyncio
import threading

from negotiations.engine.loops import running_loop


def test_outside_any_loop_it_is_none():
    assert running_loop() is None


async def test_inside_a_coroutine_it_is_that_loop_and_in_another_thread_none():
    assert running_loop() is asyncio.get_running_loop()
    seen = []
    thread = threading.Thread(target=lambda: seen.append(running_loop()))
    thread.start()
    thread.join()
    assert seen == [None]
