"""A refusal after the final "." is in the ledger before the connection carries another message.

The ledger records "sent" before the "." is written; a server that then answers 451 leaves a
row that says "sent" for a reader who got nothing. That refusal used to wait in memory for a
batch write, and a SIGKILL meanwhile left the reader recorded as mailed, never to be mailed.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.email.test_resume import READERS, _job, _single_connection, _spawn, assert_each_once
from tests.email.world import World
from tests.fakes.smtp import Received


async def test_a_process_killed_after_a_refused_dot_mails_that_reader_on_resume(
    world: World, tmp_path: Path
) -> None:
    await world.subscribe(*READERS)
    message, context = await world.story()
    refused = sorted(READERS)[2]
    world.smtp.script_data(refused, "451 4.3.0 Try again later")
    victim: dict[str, int] = {}

    def kill_at_fifth_message(_received: Received, count: int) -> None:
        # The third message was refused after its "."; two more went through on the same
        # connection before this one, whose 250 the sender never hears.
        if count == 4:
            os.kill(victim["pid"], signal.SIGKILL)

    world.smtp.on_message = kill_at_fifth_message
    proc = await _spawn(_single_connection(world, tmp_path), _job(tmp_path, message, context))
    victim["pid"] = proc.pid
    _out, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    [connection] = world.smtp.connections
    assert [t.reply[:3] for t in connection.transactions] == ["250", "250", "451", "250", "250"]
    assert refused not in world.smtp.per_recipient()

    world.smtp.on_message = None
    result = await world.adapter().send(message, context)
    assert result.note.startswith(f"{len(READERS)} of {len(READERS)} sent")
    assert_each_once(world, READERS)
