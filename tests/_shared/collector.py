"""What only Python's cyclic collector could free after some work: the check behind the
"an ended session leaves nothing for the collector" tests of the runtime and the bridge."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable


async def library_garbage(run: Callable[[], Awaitable[None]]) -> list[str]:
    """Run ``run()`` with the collector off; the kinds of library object (realtalk and its
    plugins, not the test kit's fake servers) that only the collector could free
    afterwards: members of reference cycles, or kept by one. Every such object stays in
    memory until a collection, and every collection walks it (docs/benchmarks.md)."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await run()
        for _ in range(5):  # callbacks the end of ``run`` scheduled
            await asyncio.sleep(0)
        gc.collect()
        return sorted(
            f"{kind.__module__}.{kind.__qualname__}"
            for kind in {type(o) for o in gc.garbage}
            if kind.__module__.startswith("realtalk")
            and not kind.__module__.startswith("realtalk_testing")  # the fake servers'
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
