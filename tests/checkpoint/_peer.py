"""A second process for the multi-process tests: write to a shared store, report what it saw.

Usage: python _peer.py URL THREAD_ID NAME COUNT. Prints one JSON line:
``{"seen": [texts present before it wrote], "won": [ledger ids it started first]}``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from realtalk.checkpoint import checkpointer_from_url
from realtalk.messages import Message


async def main(url: str, thread_id: str, name: str, count: int) -> None:
    cp = checkpointer_from_url(url)
    config = {"thread_id": thread_id}
    try:
        seen = [m.text_content for m in await cp.alist_messages(config)]
        won: list[str] = []
        for i in range(count):
            await cp.aput_messages(config, [Message.text("user", f"{name}:{i}")])
            call_id = f"call-{i}"
            if await cp.aledger_start(config, call_id, "tool", {"by": name}):
                won.append(call_id)
                await cp.aledger_finish(config, call_id, result=name)
        await cp.aupdate_thread_metadata(config, **{f"seen_by_{name}": len(seen)})
        print(json.dumps({"seen": seen, "won": won}))
    finally:
        await cp.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
