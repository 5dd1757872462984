"""How close Telegram pacing runs to the flood limits, against the fake Bot API.

    python -m bench.telegram_pacing [--k-channel 200] [--k-chats 10] [--latency-ms 0]

Time is compressed ``k`` times on both sides (the fake's ``FloodLimits.scaled(k)``, the
adapter's rates times ``k``). Prints, per burst: seconds taken, sends per second, the most
calls the fake saw in any one of its windows against its limit, and the 429s it answered.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from distributor.adapter import AdapterContext
from distributor.config import AppConfig
from distributor.pacing import Pacer
from distributor.rendering import Renderer
from distributor_channels.telegram.adapter import TelegramAdapter
from distributor_channels.telegram.payload import TelegramPayloads
from tests.fakes.telegram_api import FakeTelegramAPI, FloodLimits
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN, populate_default_chats
from tests.telegram.conftest import article, channel_config, send_context

CHATS = [-1002000000000 - n for n in range(200)]


def densest(times: list[float], window: float) -> int:
    times = sorted(times)
    return max((bisect.bisect_right(times, t + window - 1e-9) - i for i, t in enumerate(times)),
               default=0)  # fmt: skip


async def burst(k: float, latency: float, *, many: bool, paced: bool, workdir: Path) -> None:
    fake = populate_default_chats(FakeTelegramAPI(tokens=(TELEGRAM_TOKEN,),
                                                  flood=FloodLimits().scaled(k)))  # fmt: skip
    for chat in CHATS:
        fake.add_chat(chat, type="channel")
    fake.latency = latency
    await fake.start()
    pacer, renderer = Pacer(), Renderer()
    rates = {"per_bot_per_second": int(30 * k), "per_group_per_minute": int(20 * k),
             "per_chat_per_second": int(k)} if paced else {"per_bot_per_second": 10**6,
             "per_group_per_minute": 10**6, "per_chat_per_second": 10**6}  # fmt: skip
    built = time.perf_counter()
    adapters = []
    for n, chat in enumerate(CHATS if many else [CHANNEL_ID]):
        config = channel_config(fake.base_url, name=f"tg{n}", chat=str(chat), rates=rates,
                                timeouts={"read": 10})  # fmt: skip
        context = AdapterContext(AppConfig(version=1), renderer, lambda: datetime.now(UTC),
                                 workdir, pacer)  # fmt: skip
        adapters.append(TelegramAdapter(config, TelegramPayloads(config, renderer), context))
        await adapters[-1].start()
    built = time.perf_counter() - built
    message = adapters[0].builder.render(article())
    started = time.perf_counter()
    if many:
        outcomes = await asyncio.gather(*(a.send(message, send_context()) for a in adapters),
                                        return_exceptions=True)  # fmt: skip
    else:
        outcomes = []
        for _ in range(200):
            try:
                outcomes.append(await adapters[0].send(message, send_context()))
            except Exception as exc:  # unpaced: keep going to count the refusals
                outcomes.append(exc)
    elapsed = time.perf_counter() - started
    sends = [r.time for r in fake.requests if r.status == 200]
    window, limit = (1 / k, 30) if many else (60 / k, 20)
    print(f"{'200 chats' if many else '1 channel'} k={k:g} {'paced' if paced else 'unpaced'}: "
          f"{elapsed:.2f} s, {len(sends) / elapsed:.0f} sends/s, densest window "
          f"{densest(sends, window)}/{limit}, 429s: {fake.count_status(429)}, "
          f"failed: {sum(isinstance(o, Exception) for o in outcomes)}, "
          f"{built / len(adapters) * 1000:.2f} ms per adapter built")  # fmt: skip
    for adapter in adapters:
        await adapter.aclose()
    await pacer.aclose()
    await fake.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k-channel", type=float, default=200)
    parser.add_argument("--k-chats", type=float, default=10)
    parser.add_argument("--latency-ms", type=float, default=0)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    with TemporaryDirectory() as tmp:
        for paced in (True, False):
            await burst(args.k_channel, latency, many=False, paced=paced, workdir=Path(tmp))
            await burst(args.k_chats, latency, many=True, paced=paced, workdir=Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
