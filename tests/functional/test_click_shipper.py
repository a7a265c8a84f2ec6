"""``ship-clicks``' loop: ships while the server appends, waits out a queue outage, ships the rest on stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError, SendResult
from multibuzz.bootstrap import Container
from multibuzz.redirect.journal import ClickJournal
from multibuzz.redirect.service import journal_directory

from infra.local.shipper import run


class FlakyQueue:
    """Refuses while ``down`` is set, then forwards to the real local queue."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.down = threading.Event()
        self.refused = 0

    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        if self.down.is_set():
            self.refused += 1
            raise QueueUnavailableError("down for maintenance")
        return self.real.send_batch(queue, messages)  # type: ignore[attr-defined, no-any-return]


def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_the_shipper_loop_rides_out_an_outage_and_ships_everything(container: Container) -> None:
    flaky = FlakyQueue(container.local_queue)
    container.__dict__["queue"] = flaky
    journal = ClickJournal(journal_directory(container))
    stop = threading.Event()
    result = []
    thread = threading.Thread(target=lambda: result.append(run(container, stop, interval=0.005)))
    thread.start()
    try:
        for n in range(20):
            journal.append(f'{{"kind":"click.record","id":"clk_a{n}","account_id":"acc_1","payload":{{}}}}')
        wait_for(lambda: container.local_queue.depth("clicks") == 20)
        assert container.local_queue.depth("clicks") == 20

        flaky.down.set()
        for n in range(20):
            journal.append(f'{{"kind":"click.record","id":"clk_b{n}","account_id":"acc_1","payload":{{}}}}')
        wait_for(lambda: flaky.refused >= 2)
        assert container.local_queue.depth("clicks") == 20, "nothing gets through while the queue is down"
        flaky.down.clear()
        wait_for(lambda: container.local_queue.depth("clicks") == 40)
        journal.append('{"kind":"click.record","id":"clk_last","account_id":"acc_1","payload":{}}')
    finally:
        stop.set()
        thread.join(timeout=20)
    assert container.local_queue.depth("clicks") == 41, "the last click went out in the final round"
    assert result[0].queue_error is None and result[0].sent == 41
