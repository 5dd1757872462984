"""Run one email send in its own process, so a test can SIGKILL it mid-send.

    python -m tests.email.sender_proc CONFIG.yaml JOB.json

JOB.json holds the rendered payload and the delivery ticket. Exit 0 when the send finished.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from distributor.adapter import AdapterContext
from distributor.clock import utcnow
from distributor.configload import load_config
from distributor.pacing import Pacer
from distributor.send_context import SendContext
from distributor.store import Store
from distributor.types import DeliveryTicket, RenderedMessage
from distributor_channels.email.adapter import EmailAdapter
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.payload import EmailPayloads


async def main(config_path: str, job_path: str) -> None:
    loaded = load_config(config_path, environ={})
    job = json.loads(await asyncio.to_thread(Path(job_path).read_text, encoding="utf-8"))
    channel = loaded.app.channels[0]
    assert isinstance(channel, EmailChannelConfig)
    store = await Store.open(loaded.app.store)
    pacer = Pacer()
    try:
        context = AdapterContext(
            app=loaded.app,
            renderer=loaded.renderer(),
            clock=utcnow,
            outbox_dir=Path(job_path).parent / "outbox",
            pacer=pacer,
            store=store,
        )
        adapter = EmailAdapter(channel, EmailPayloads(channel, context.renderer), context)
        message = RenderedMessage(payload=job["payload"], summary="")
        result = await adapter.send(message, SendContext(DeliveryTicket(**job["ticket"])))
        print(result.note, flush=True)
    finally:
        await pacer.aclose()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
