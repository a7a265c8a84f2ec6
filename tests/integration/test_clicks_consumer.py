"""The clicks consumer (functions/attribution): idempotent storage, unique-click dedup, bots."""

from __future__ import annotations

from datetime import UTC, datetime

from multibuzz.adapters.queue.base import OutgoingMessage
from multibuzz.bootstrap import Container
from multibuzz.clock import FixedClock
from multibuzz.db.models.influencer import Click, ClickDedup
from multibuzz.redirect.cache import LinkSnapshot, TtlCache
from multibuzz.redirect.service import Redirector
from sqlalchemy import func, select

from infra.local.dispatch import deliver_once, load_handler
from tests.functional.test_redirect_handler import event, make_link

SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)


def deliver(container: Container, redirector: Redirector) -> int:
    redirector.flush()
    handler = load_handler("attribution")
    total = 0
    while report := deliver_once(container.local_queue, "clicks", handler, batch_size=100):
        if not report.received:
            break
        assert report.dead == 0 and report.retried == 0
        total += report.succeeded
    return total


def clicks(container: Container) -> list[Click]:
    with container.session() as session:
        return list(session.scalars(select(Click).order_by(Click.occurred_at, Click.id)))


def test_redelivered_click_messages_are_stored_once(container: Container) -> None:
    link = make_link(container)
    redirector = Redirector(lambda: container, cache=TtlCache[LinkSnapshot]())
    redirector(event(link.code, headers={"user-agent": SAFARI}))
    redirector.flush()
    (message,) = container.local_queue.receive("clicks", 10)
    container.local_queue.release("clicks", message.receipt_handle)
    container.local_queue.send_batch("clicks", [OutgoingMessage(message.body), OutgoingMessage(message.body)])
    assert deliver(container, redirector) == 3
    (stored,) = clicks(container)
    assert (stored.device_type, stored.browser, stored.os) == ("mobile", "Mobile Safari", "iOS")
    assert stored.unique_click


def test_unique_clicks_per_link_visitor_and_hour_while_raw_clicks_are_kept(container: Container) -> None:
    link = make_link(container)
    clock = FixedClock(datetime(2026, 4, 1, 10, 5, tzinfo=UTC))
    container.clock = clock
    redirector = Redirector(lambda: container, cache=TtlCache[LinkSnapshot]())
    same = {"user-agent": SAFARI, "cloudfront-viewer-address": "198.51.100.7:1234"}

    def hit(headers: dict[str, str], method: str = "GET") -> None:
        assert redirector(event(link.code, method=method, headers=headers))["statusCode"] == 302
        clock.advance(seconds=1)  # keeps the stored order obvious

    hit(same)  # unique
    clock.advance(minutes=20)
    hit(same)  # same visitor, same hour: raw click only
    hit({**same, "cloudfront-viewer-address": "198.51.100.8:1234"})  # another IP in the same /24: unique
    hit({**same, "user-agent": SAFARI + " extra"})  # another agent: unique
    hit(same, method="HEAD")  # bot: never unique
    clock.advance(hours=1)
    hit(same)  # the next hour: unique again
    assert deliver(container, redirector) == 6
    stored = clicks(container)
    assert [c.unique_click for c in stored] == [True, False, True, True, False, True]
    assert [c.is_bot for c in stored] == [False, False, False, False, True, False]
    assert len({c.ip for c in stored}) == 1, "stored IPs are truncated: 198.51.100.0"
    with container.session() as session:
        assert session.scalar(select(func.count()).select_from(ClickDedup)) == 4


def test_unique_count_does_not_depend_on_delivery_order(container: Container) -> None:
    link = make_link(container)
    clock = FixedClock(datetime(2026, 4, 1, 10, 0, tzinfo=UTC))
    container.clock = clock
    redirector = Redirector(lambda: container, cache=TtlCache[LinkSnapshot]())
    for _ in range(3):
        redirector(event(link.code, headers={"user-agent": SAFARI}))
        clock.advance(minutes=10)
    redirector.flush()
    messages = container.local_queue.receive("clicks", 10)
    for message in messages:
        container.local_queue.delete("clicks", message.receipt_handle)
    container.local_queue.send_batch("clicks", [OutgoingMessage(m.body) for m in reversed(messages)])
    assert deliver(container, redirector) == 3
    stored = clicks(container)
    assert len(stored) == 3 and sum(c.unique_click for c in stored) == 1
