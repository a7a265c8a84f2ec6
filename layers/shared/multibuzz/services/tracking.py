"""Tracking, consumer side: visitors, sessions (visits), events and identities, written in bulk.

One call handles one queue message, inside the caller's transaction. Race safety
does not rely on FIFO ordering alone (a visitor's hits can arrive through its
visitor group and through a user group):

- visitor and identity ids are derived from their natural keys and inserted with
  "insert or ignore", so concurrent creators agree on one row;
- before reading a visitor's sessions, the visitor row is updated (``last_seen_at``),
  which takes its row lock on MySQL and the write lock on SQLite, so session
  resolution for one visitor is serialised;
- events are keyed by their ``evt_`` id (deterministic for client-supplied ids);
  ids already stored are skipped before anything is counted, so redelivery is a no-op.

Session attribution (touch, channel, device) is computed once, when a session starts.
"""

from __future__ import annotations

import bisect
import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Table,
    bindparam,
    case,
    false,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from multibuzz.db.models import Account, Event, Identity, ProcessedMessage, Visitor, VisitSession
from multibuzz.domain import sessions as rules
from multibuzz.domain.channels import ChannelRule, classify, is_internal_referrer, is_unwanted_referrer
from multibuzz.domain.touch import MarketingTouch, extract_touch, normalise_host
from multibuzz.domain.useragents import parse_user_agent
from multibuzz.ids import IdGenerator
from multibuzz.ingest.ids import identity_id as derive_identity_id
from multibuzz.ingest.ids import visitor_row_id
from multibuzz.observability import get_logger
from multibuzz.telemetry import metrics

logger = get_logger()

PAGE_VIEW = "page_view"
_EVENTS: Table = Event.__table__  # type: ignore[assignment]
_SESSIONS: Table = VisitSession.__table__  # type: ignore[assignment]
_VISITORS: Table = Visitor.__table__  # type: ignore[assignment]
_IDENTITIES: Table = Identity.__table__  # type: ignore[assignment]


# -- inputs ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Hit:
    """Something that happened on the site at ``at``: an event, or a session start."""

    at: datetime
    url: str | None = None
    referrer: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    ref_code: str | None = None  # explicit (unified form); the landing URL's ref_code otherwise
    page_view: bool = False
    client_session_id: str | None = None


@dataclass(frozen=True, slots=True)
class TrackedEvent:
    id: str
    client_event_id: str | None
    event_type: str
    occurred_at: datetime
    received_at: datetime
    visitor_key: str | None
    user_id: str | None
    properties: dict[str, Any]
    url: str | None
    referrer: str | None
    user_agent: str | None
    ip: str | None
    funnel: str | None
    funnel_step: str | None
    funnel_position: int | None
    request_id: str | None = None  # the API request that sent it (correlation id)

    def hit(self) -> Hit:
        ref_code = self.properties.get("ref_code")
        return Hit(
            at=self.occurred_at,
            url=self.url,
            referrer=self.referrer,
            user_agent=self.user_agent,
            ip=self.ip,
            ref_code=ref_code if isinstance(ref_code, str) and ref_code else None,
            page_view=self.event_type == PAGE_VIEW,
        )


@dataclass(frozen=True, slots=True)
class AccountRules:
    account_id: str
    timeout: timedelta
    domains: tuple[str, ...]
    channel_rules: tuple[ChannelRule, ...]

    @classmethod
    def from_settings(cls, account_id: str, settings: dict[str, Any] | None) -> AccountRules:
        settings = settings or {}
        domains = settings.get("domains") or ()
        parsed_rules: list[ChannelRule] = []
        for raw in settings.get("channel_rules") or ():
            try:
                parsed_rules.append(ChannelRule.model_validate(raw))
            except ValueError:
                logger.warning("ignoring an invalid channel rule", extra={"account_id": account_id})
        return cls(
            account_id=account_id,
            timeout=rules.timeout_from_settings(settings),
            domains=tuple(d for d in domains if isinstance(d, str)),
            channel_rules=tuple(parsed_rules),
        )


RULES_TTL_SECONDS = 30.0
_rules_cache: dict[str, tuple[float, AccountRules]] = {}


def load_rules(session: Session, account_id: str) -> AccountRules | None:
    """The account's session/channel settings, cached per process for RULES_TTL_SECONDS (a settings
    change reaches the consumer within that time). None for an unknown account."""
    now = time.monotonic()
    cached = _rules_cache.get(account_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = session.execute(select(Account.settings).where(Account.id == account_id)).first()
    if row is None:
        return None
    account = AccountRules.from_settings(account_id, row[0])
    if len(_rules_cache) > 10_000:
        _rules_cache.clear()
    _rules_cache[account_id] = (now + RULES_TTL_SECONDS, account)
    return account


# -- sessions in memory --------------------------------------------------------------------------
@dataclass(eq=False)
class OpenSession:
    id: str
    started_at: datetime
    last_activity_at: datetime
    campaign_key: str | None
    page_view_count: int
    new: bool = False
    dirty: bool = False
    row: dict[str, Any] = field(default_factory=dict)  # the full row, for new sessions


@dataclass(frozen=True, slots=True)
class VisitorState:
    id: str
    identity_id: str | None
    sessions: list[OpenSession]  # sorted by start
    created: bool = False  # created by this transaction: nothing of it can be stored yet
    stored: set[str] | None = None  # which of the asked event ids are stored already (None: not asked)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Placed:
    session_id: str
    reason: rules.Reason


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else value


# -- the writer ------------------------------------------------------------------------------------
class Tracker:
    """Writes one message's worth of tracking data for one account."""

    def __init__(self, session: Session, ids: IdGenerator, now: datetime, account: AccountRules) -> None:
        self.session = session
        self.ids = ids
        self.now = now
        self.account = account
        self._identities: dict[str, str] = {}
        # Event rows held back for one INSERT per SQS batch (see defer_events); their ids count as stored.
        self._deferred: list[dict[str, Any]] | None = None
        self._unsaved: list[dict[str, Any]] = []  # event rows built by event_row and not inserted yet
        self._moves: list[Any] = []  # event re-assignments of late campaign splits (see _split)
        self._deferred_ids: set[str] = set()
        self.conn = session.connection()  # Core statements: no ORM overhead on the hot path
        self._mysql = self.conn.dialect.name in ("mysql", "mariadb")

    @property
    def account_id(self) -> str:
        return self.account.account_id

    # -- rows created on demand -----------------------------------------------------------------
    def _insert_ignore(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._mysql:
            from sqlalchemy.dialects.mysql import insert as mysql_insert

            stmt = mysql_insert(table)
            stmt = stmt.on_duplicate_key_update(id=stmt.inserted.id)
            self.conn.execute(stmt, list(rows))
        else:
            self.conn.execute(insert(table).prefix_with("OR IGNORE", dialect="sqlite"), list(rows))

    def ensure_visitor(
        self,
        visitor_key: str,
        first_at: datetime,
        last_at: datetime,
        sessions_since: datetime | None = None,
        event_ids: Sequence[str] = (),
    ) -> VisitorState:
        """Create or touch the visitor (one upsert, which takes its row lock for this transaction), then, in
        one round trip, read its identity, the sessions a hit at or after ``sessions_since`` could continue,
        and which of ``event_ids`` are already stored."""
        created = self._upsert_visitor(visitor_key, first_at, last_at)
        if created:
            return VisitorState(visitor_row_id(self.account_id, visitor_key), None, [], created=True, stored=set())
        ids = list(dict.fromkeys(event_ids))
        states, stored = self._read_states([visitor_key], sessions_since, ids if len(ids) <= 500 else [])
        state = states[visitor_key]
        return VisitorState(state.id, state.identity_id, state.sessions, stored=stored)

    def _read_states(
        self, keys: Sequence[str], sessions_since: datetime | None, event_ids: Sequence[str]
    ) -> tuple[dict[str, VisitorState], set[str] | None]:
        """In one round trip: each visitor's identity and the sessions a hit at or after ``sessions_since``
        could continue (none when it is None), and which of ``event_ids`` are stored (None when none asked)."""
        v, s, e = _VISITORS.c, _SESSIONS.c, _EVENTS.c
        window = false() if sessions_since is None else s.last_activity_at >= sessions_since - self.account.timeout
        parts = [
            select(
                literal("v").label("kind"),
                v.id,
                v.identity_id,
                s.id.label("session_id"),
                s.started_at,
                s.last_activity_at,
                s.campaign_key,
                s.page_view_count,
                v.visitor_key,
            )
            .select_from(
                _VISITORS.outerjoin(_SESSIONS, (s.visitor_id == v.id) & (s.account_id == v.account_id) & window)
            )
            .where(v.account_id == self.account_id, v.visitor_key.in_(list(keys)))
        ]
        if event_ids:
            parts.append(
                select(literal("e"), e.id, null(), null(), null(), null(), null(), null(), null()).where(
                    e.account_id == self.account_id, e.id.in_(list(event_ids))
                )
            )
        rows = self.conn.execute(union_all(*parts) if len(parts) > 1 else parts[0]).all()
        states: dict[str, VisitorState] = {}
        for row in rows:
            if row[0] != "v":
                continue
            state = states.get(row[8])
            if state is None:
                state = states[row[8]] = VisitorState(row[1], row[2], [])
            if row[3] is not None:
                state.sessions.append(OpenSession(row[3], _utc(row[4]), _utc(row[5]), row[6], row[7]))
        for state in states.values():
            state.sessions.sort(key=lambda x: (x.started_at, x.id))
        stored = {row[1] for row in rows if row[0] == "e"} if event_ids else None
        return states, stored

    def _visitor_row(self, visitor_key: str, first_at: datetime, last_at: datetime) -> dict[str, Any]:
        return {
            "id": visitor_row_id(self.account_id, visitor_key),
            "account_id": self.account_id,
            "visitor_key": visitor_key,
            "identity_id": None,
            "first_seen_at": first_at,
            "last_seen_at": last_at,
            "updated_at": self.now,
        }

    def _visitor_upsert(self) -> Any:
        """INSERT … ON DUPLICATE KEY UPDATE / ON CONFLICT DO UPDATE for visitor rows (one or many).

        ``updated_at`` strictly advances on every upsert, even within one transaction at one ``now``: with
        CLIENT_FOUND_ROWS (set by SQLAlchemy's MySQL dialects) an unchanged row would report 1 affected
        row, as an insert does."""
        c = _VISITORS.c
        if self._mysql:
            from sqlalchemy.dialects.mysql import insert as mysql_insert

            mysql_stmt = mysql_insert(_VISITORS)
            advanced = func.date_add(
                func.coalesce(c.updated_at, mysql_stmt.inserted.updated_at), literal_column("INTERVAL 1 MICROSECOND")
            )
            return mysql_stmt.on_duplicate_key_update(
                last_seen_at=func.greatest(c.last_seen_at, mysql_stmt.inserted.last_seen_at),
                first_seen_at=func.least(c.first_seen_at, mysql_stmt.inserted.first_seen_at),
                updated_at=func.greatest(mysql_stmt.inserted.updated_at, advanced),
            )
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        sqlite_stmt = sqlite_insert(_VISITORS)
        return sqlite_stmt.on_conflict_do_update(
            index_elements=[c.account_id, c.visitor_key],
            set_={
                "last_seen_at": func.max(c.last_seen_at, sqlite_stmt.excluded.last_seen_at),
                "first_seen_at": func.min(c.first_seen_at, sqlite_stmt.excluded.first_seen_at),
                "updated_at": sqlite_stmt.excluded.updated_at,
            },
        )

    def _upsert_visitor(self, visitor_key: str, first_at: datetime, last_at: datetime) -> bool:
        """True when the row was certainly created now (MySQL tells inserted from updated; SQLite does not)."""
        result = self.conn.execute(self._visitor_upsert(), [self._visitor_row(visitor_key, first_at, last_at)])
        # MySQL affected rows: 1 for an insert, 2 for an update (never "unchanged": see _visitor_upsert).
        return self._mysql and getattr(result, "rowcount", 0) == 1

    def upsert_visitors(self, spans: dict[str, tuple[datetime, datetime]]) -> None:
        """Create or touch many visitors in one statement (the batch path; nothing is inferred from it)."""
        rows = [self._visitor_row(key, first, last) for key, (first, last) in spans.items()]
        self.conn.execute(self._visitor_upsert(), rows)

    def visitor_states(
        self, keys: Sequence[str], sessions_since: datetime, event_ids: Sequence[str]
    ) -> tuple[dict[str, VisitorState], set[str]]:
        """The batch path's read: every visitor's state and the stored event ids, in one round trip."""
        states, stored = self._read_states(keys, sessions_since, event_ids)
        return states, stored or set()

    def touch_visitor(self, visitor_id: str, first_at: datetime, last_at: datetime) -> bool:
        result = self.session.execute(
            update(Visitor)
            .where(Visitor.id == visitor_id)
            .values(
                last_seen_at=case((Visitor.last_seen_at < last_at, last_at), else_=Visitor.last_seen_at),
                first_seen_at=case((Visitor.first_seen_at > first_at, first_at), else_=Visitor.first_seen_at),
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def ensure_identity(self, user_id: str, traits: dict[str, Any] | None = None) -> str:
        identity_id = self._identities.get(user_id)
        if identity_id is None:
            identity_id = derive_identity_id(self.account_id, user_id)
            self._insert_ignore(
                _IDENTITIES,
                [
                    {
                        "id": identity_id,
                        "account_id": self.account_id,
                        "user_id": user_id,
                        "traits": {},
                        "created_at": self.now,
                        "updated_at": self.now,
                    }
                ],
            )
            self._identities[user_id] = identity_id
        if traits:
            identity = self.session.get(Identity, identity_id, with_for_update=True)
            if identity is not None:
                identity.traits = {**(identity.traits or {}), **traits}
                identity.updated_at = self.now
                self.session.flush()
        return identity_id

    def link(self, visitor_id: str, identity_id: str) -> bool:
        """Point the visitor at the identity (the latest identify wins). True when the link changed."""
        result = self.session.execute(
            update(Visitor)
            .where(Visitor.id == visitor_id, (Visitor.identity_id != identity_id) | Visitor.identity_id.is_(None))
            .values(identity_id=identity_id)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            return False
        self.session.execute(
            update(Event)
            .where(Event.account_id == self.account_id, Event.visitor_id == visitor_id, Event.identity_id.is_(None))
            .values(identity_id=identity_id)
            .execution_options(synchronize_session=False)
        )
        return True

    def latest_visitor_of(self, identity_id: str) -> str | None:
        return self.session.execute(
            select(Visitor.id)
            .where(Visitor.account_id == self.account_id, Visitor.identity_id == identity_id)
            .order_by(Visitor.last_seen_at.desc())
            .limit(1)
        ).scalar_one_or_none()

    # -- sessions ---------------------------------------------------------------------------------
    def open_sessions(self, visitor_id: str, earliest: datetime) -> list[OpenSession]:
        """The visitor's sessions a hit at or after ``earliest`` could continue, sorted by start."""
        rows = self.session.execute(
            select(
                VisitSession.id,
                VisitSession.started_at,
                VisitSession.last_activity_at,
                VisitSession.campaign_key,
                VisitSession.page_view_count,
            )
            .where(
                VisitSession.account_id == self.account_id,
                VisitSession.visitor_id == visitor_id,
                VisitSession.last_activity_at >= earliest - self.account.timeout,
            )
            .order_by(VisitSession.started_at, VisitSession.id)
            .limit(500)
        ).all()
        return [OpenSession(r.id, r.started_at, r.last_activity_at, r.campaign_key, r.page_view_count) for r in rows]

    def place(self, visitor_id: str, sessions: list[OpenSession], hit: Hit) -> Placed:
        """Put ``hit`` in a session of ``sessions`` (sorted by start), starting one when the rules say so."""
        touch: MarketingTouch | None = None
        key: str | None = None
        internal = False
        if hit.url or hit.referrer or hit.ref_code:
            touch = self._touch(hit)
            key = rules.campaign_digest(touch.campaign_key())
            # The site's own pages and payment providers (a return from PayPal/Stripe/3-D Secure) never
            # start a session by their touch; the inactivity timeout still applies.
            internal = bool(hit.referrer) and (
                is_internal_referrer(hit.referrer, self._internal_hosts(hit.url)) or is_unwanted_referrer(hit.referrer)
            )
        current = rules.candidate_for(sessions, hit.at)
        decision = rules.decide(current, rules.Hit(hit.at, key, internal), self.account.timeout)
        if decision.starts_session or current is None:
            split = current if decision.reason is rules.Reason.NEW_CAMPAIGN else None
            current = self._start(visitor_id, hit, touch or self._touch(hit), key)
            bisect.insort(sessions, current, key=lambda s: (s.started_at, s.id))
            if split is not None and split.last_activity_at > hit.at:
                self._split(visitor_id, split, current, hit.at)
        elif hit.at > current.last_activity_at:
            current.last_activity_at = hit.at
            current.dirty = True
        if hit.page_view:
            current.page_view_count += 1
            current.dirty = True
        if current.new:
            current.row["last_activity_at"] = current.last_activity_at
            current.row["page_view_count"] = current.page_view_count
        return Placed(current.id, decision.reason)

    def _split(self, visitor_id: str, old: OpenSession, new: OpenSession, at: datetime) -> None:
        """A campaign hit arrived late, inside ``old``'s span: what ``old`` recorded after it belongs to the
        visit that hit started (ARCHITECTURE section 3). Move those events (stored or about to be) to ``new``
        and shrink ``old`` to what came before. Rare (out-of-order delivery), so a few extra statements."""
        moved_views, moved_last, kept_last = 0, at, old.started_at
        if not old.new:
            e = _EVENTS.c
            scope = (
                e.account_id == self.account_id,
                e.visitor_id == visitor_id,
                e.session_id == old.id,
                e.occurred_at <= old.last_activity_at,
            )
            after = select(func.sum(case((e.event_type == PAGE_VIEW, 1), else_=0)), func.max(e.occurred_at)).where(
                *scope, e.occurred_at > at
            )
            views, last = self.conn.execute(after).one()
            if last is not None:
                moved_views, moved_last = int(views or 0), max(moved_last, _utc(last))
                # run by save_sessions once the new session row exists (foreign key)
                self._moves.append(
                    update(_EVENTS)
                    .where(*scope, e.occurred_at > at)
                    .values(session_id=new.id)
                    .execution_options(synchronize_session=False)
                )
            before = self.conn.execute(select(func.max(e.occurred_at)).where(*scope, e.occurred_at <= at)).scalar()
            if before is not None:
                kept_last = max(kept_last, _utc(before))
        for row in (*self._unsaved, *(self._deferred or ())):
            if row["session_id"] == old.id:
                if row["occurred_at"] > at:
                    row["session_id"] = new.id
                    moved_views += row["event_type"] == PAGE_VIEW
                    moved_last = max(moved_last, row["occurred_at"])
                else:
                    kept_last = max(kept_last, row["occurred_at"])
        old.last_activity_at = kept_last
        old.page_view_count = max(old.page_view_count - moved_views, 0)
        old.dirty = True
        new.last_activity_at = moved_last
        new.page_view_count += moved_views
        for s in (old, new):
            if s.new:
                s.row["last_activity_at"] = s.last_activity_at
                s.row["page_view_count"] = s.page_view_count

    def _touch(self, hit: Hit) -> MarketingTouch:
        touch = extract_touch(hit.url, hit.referrer)
        if hit.ref_code and touch.ref_code is None:
            touch = dataclasses.replace(touch, ref_code=hit.ref_code)
        return touch

    def _internal_hosts(self, url: str | None) -> tuple[str, ...]:
        """The account's own site: its configured domains, and the host of the page being hit."""
        own = normalise_host(url) if url else None
        return (*self.account.domains, own) if own else self.account.domains

    def _start(self, visitor_id: str, hit: Hit, touch: MarketingTouch, key: str | None) -> OpenSession:
        session_id = self.ids.new("ses")
        device = parse_user_agent(hit.user_agent)
        channel = classify(touch, internal_hosts=self._internal_hosts(hit.url), custom_rules=self.account.channel_rules)
        click = touch.paid_click_id or (("fbclid", touch.click_ids["fbclid"]) if "fbclid" in touch.click_ids else None)
        row = {
            "id": session_id,
            "account_id": self.account_id,
            "visitor_id": visitor_id,
            "client_session_id": _cut(hit.client_session_id, 128),
            "started_at": hit.at,
            "last_activity_at": hit.at,
            "landing_url": hit.url,
            "referrer": hit.referrer,
            "referrer_host": _cut(touch.referrer_host, 255),
            "utm_source": _cut(touch.utm_source, 255),
            "utm_medium": _cut(touch.utm_medium, 255),
            "utm_campaign": _cut(touch.utm_campaign, 255),
            "utm_content": _cut(touch.utm_content, 255),
            "utm_term": _cut(touch.utm_term, 255),
            "click_id_type": click[0] if click else None,
            "click_id": _cut(click[1], 255) if click else None,
            "ref_code": _cut(touch.ref_code, 64),
            "campaign_key": key,
            "channel": channel,
            "page_view_count": 0,
            "device_type": _cut(device.device_type, 20),
            "browser": _cut(device.browser, 50),
            "os": _cut(device.os, 50),
            "is_bot": device.is_bot,
            "ip": hit.ip,
            "country": None,
            "city": None,
            "created_at": self.now,
        }
        return OpenSession(session_id, hit.at, hit.at, key, 0, new=True, row=row)

    def save_sessions(self, sessions: Iterable[OpenSession]) -> None:
        new_rows = []
        changed = []
        for s in sessions:
            if s.new:
                new_rows.append(s.row)
            elif s.dirty:
                changed.append({"sid": s.id, "la": s.last_activity_at, "pv": s.page_view_count})
        if new_rows:
            self.conn.execute(insert(_SESSIONS), new_rows)
            metrics.count(metrics.Metric.SESSIONS_STARTED, len(new_rows))
        for move in self._moves:
            self.conn.execute(move)
        self._moves = []
        if len(changed) == 1:
            self.conn.execute(
                update(_SESSIONS)
                .where(_SESSIONS.c.id == bindparam("sid"))
                .values(last_activity_at=bindparam("la"), page_view_count=bindparam("pv")),
                changed,
            )
        elif changed:  # one statement, not one per session (PyMySQL runs an UPDATE executemany row by row)
            c = _SESSIONS.c
            self.conn.execute(
                update(_SESSIONS)
                .where(c.id.in_([row["sid"] for row in changed]))
                .values(
                    last_activity_at=case(
                        {row["sid"]: bindparam(None, row["la"], type_=c.last_activity_at.type) for row in changed},
                        value=c.id,
                    ),
                    page_view_count=case({row["sid"]: row["pv"] for row in changed}, value=c.id),
                )
            )

    # -- events -------------------------------------------------------------------------------------
    def unseen(self, events: Sequence[TrackedEvent], *, stored: set[str] | None = None) -> list[TrackedEvent]:
        """Events not stored yet (redelivery, client retries), each id once, in time order.
        ``stored``: the ids already known to be stored (then nothing is queried)."""
        unique: dict[str, TrackedEvent] = {}
        for event in events:
            unique.setdefault(event.id, event)
        known = stored is not None
        stored = set(stored or ())
        ids = [] if known else list(unique)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            e = _EVENTS.c
            stored.update(
                self.conn.execute(select(e.id).where(e.account_id == self.account_id, e.id.in_(chunk))).scalars()
            )
        fresh = [e for e in unique.values() if e.id not in stored and e.id not in self._deferred_ids]
        fresh.sort(key=lambda e: e.occurred_at)
        return fresh

    def event_row(
        self, event: TrackedEvent, visitor_id: str | None, session_id: str | None, identity_id: str | None
    ) -> dict[str, Any]:
        row = {
            "id": event.id,
            "account_id": self.account_id,
            "visitor_id": visitor_id,
            "session_id": session_id,
            "identity_id": identity_id,
            "event_type": event.event_type,
            "occurred_at": event.occurred_at,
            "received_at": event.received_at,
            "properties": event.properties,
            "funnel": event.funnel,
            "funnel_step": event.funnel_step,
            "funnel_position": event.funnel_position,
            "url": event.url,
            "client_event_id": event.client_event_id,
            "request_id": event.request_id,
        }
        self._unsaved.append(row)
        return row

    def save_events(self, rows: Sequence[dict[str, Any]]) -> None:
        self._unsaved = []
        metrics.count(metrics.Metric.EVENTS_STORED, len(rows))
        if self._deferred is not None:
            self._deferred.extend(rows)
            self._deferred_ids.update(row["id"] for row in rows)
            return
        self._insert_ignore(_EVENTS, rows)

    def defer_events(self) -> None:
        """Hold event rows until :meth:`flush_events`: one INSERT for a whole batch of messages.

        Safe because session placement reads the events table only in :meth:`unseen`, which treats
        held-back ids as stored, and in :meth:`_split`, which also looks at the held-back rows."""
        if self._deferred is None:
            self._deferred = []

    def flush_events(self) -> None:
        if self._deferred:
            self._insert_ignore(_EVENTS, self._deferred)
            self._deferred = []

    # -- inbox ---------------------------------------------------------------------------------------
    def seen(self, message_key: str) -> bool:
        return self.session.get(ProcessedMessage, message_key) is not None

    def mark_seen(self, message_key: str, kind: str) -> None:
        self.session.add(ProcessedMessage(id=message_key, account_id=self.account_id, kind=kind, processed_at=self.now))
        self.session.flush()


# -- use cases -------------------------------------------------------------------------------------
@dataclass
class Linked:
    """Identities newly linked to a visitor in this transaction (for the identity_linked hook)."""

    identity_ids: list[str] = field(default_factory=list)


def store_events(tracker: Tracker, events: Sequence[TrackedEvent]) -> tuple[int, Linked]:
    """Store a message's events (one visitor, or one user without a visitor). Returns (stored, links)."""
    linked = Linked()
    stored = 0
    by_visitor: dict[str | None, list[TrackedEvent]] = {}
    for event in events:
        by_visitor.setdefault(event.visitor_key, []).append(event)
    rows: list[dict[str, Any]] = []
    for visitor_key, group in by_visitor.items():
        first_at = min(e.occurred_at for e in group)
        last_at = max(e.occurred_at for e in group)
        identity_by_user = {uid: tracker.ensure_identity(uid) for uid in {e.user_id for e in group} if uid}
        visitor_id: str | None = None
        visitor_identity: str | None = None
        sessions: list[OpenSession] = []
        already: set[str] | None = None
        if visitor_key is not None:
            state = tracker.ensure_visitor(
                visitor_key, first_at, last_at, sessions_since=first_at, event_ids=[e.id for e in group]
            )
            visitor_id, visitor_identity, sessions, already = state.id, state.identity_id, state.sessions, state.stored
            if visitor_identity is None and identity_by_user:
                visitor_identity = identity_by_user[next(e.user_id for e in group if e.user_id)]
                if tracker.link(visitor_id, visitor_identity):
                    linked.identity_ids.append(visitor_identity)
        else:
            # No visitor: the user's most recently seen visitor, if any, else the identity alone.
            user_identity = next(iter(identity_by_user.values()))
            visitor_id = tracker.latest_visitor_of(user_identity)
            if visitor_id is not None:
                tracker.touch_visitor(visitor_id, first_at, last_at)
                sessions = tracker.open_sessions(visitor_id, first_at)
            visitor_identity = user_identity
        fresh = tracker.unseen(group, stored=already)
        if not fresh:
            continue
        for event in fresh:
            session_id = tracker.place(visitor_id, sessions, event.hit()).session_id if visitor_id else None
            identity = identity_by_user.get(event.user_id) if event.user_id else visitor_identity
            rows.append(tracker.event_row(event, visitor_id, session_id, identity))
        tracker.save_sessions(sessions)
        stored += len(fresh)
    tracker.save_events(rows)
    return stored, linked


def store_event_messages(tracker: Tracker, messages: Sequence[Sequence[TrackedEvent]]) -> bool:
    """A whole SQS batch of plain visitor events, set-based: one visitor upsert, one state read, one
    session insert, one session update and one events insert, whatever the number of messages.

    The same result as :func:`store_events` applied to each message in order (visitor state is carried in
    memory from message to message). Returns False, having done nothing, when a message needs the general
    path: events with a user id (identities, links) or without a visitor.
    """
    events = [event for message in messages for event in message]
    if not events or any(e.user_id or e.visitor_key is None for e in events):
        return False
    spans: dict[str, tuple[datetime, datetime]] = {}
    for event in events:
        key = str(event.visitor_key)
        first, last = spans.get(key, (event.occurred_at, event.occurred_at))
        spans[key] = (min(first, event.occurred_at), max(last, event.occurred_at))
    tracker.upsert_visitors(spans)
    since = min(first for first, _ in spans.values())
    states, stored = tracker.visitor_states(list(spans), since, list(dict.fromkeys(e.id for e in events)))
    rows: list[dict[str, Any]] = []
    for message in messages:
        by_visitor: dict[str, list[TrackedEvent]] = {}
        for event in message:
            by_visitor.setdefault(str(event.visitor_key), []).append(event)
        for key, group in by_visitor.items():
            state = states[key]
            fresh = tracker.unseen(group, stored=stored)
            for event in fresh:
                session_id = tracker.place(state.id, state.sessions, event.hit()).session_id
                rows.append(tracker.event_row(event, state.id, session_id, state.identity_id))
            stored.update(event.id for event in fresh)
    tracker.save_sessions(s for state in states.values() for s in state.sessions)
    tracker.save_events(rows)
    return True


def record_session_hit(tracker: Tracker, visitor_key: str, hit: Hit) -> str:
    """A session start sent by the client: resolved by the same rules as any hit. Returns the session id."""
    state = tracker.ensure_visitor(visitor_key, hit.at, hit.at, sessions_since=hit.at)
    placed = tracker.place(state.id, state.sessions, hit)
    tracker.save_sessions(state.sessions)
    return placed.session_id


def identify(
    tracker: Tracker, user_id: str, visitor_key: str | None, traits: dict[str, Any], at: datetime
) -> tuple[str, bool]:
    """Create or update the identity; link the visitor. Returns (identity id, whether a link changed)."""
    identity_id = tracker.ensure_identity(user_id, traits)
    if visitor_key is None:
        return identity_id, False
    state = tracker.ensure_visitor(visitor_key, at, at)
    return identity_id, tracker.link(state.id, identity_id)


# -- reading (the management API) --------------------------------------------------------------------
MAX_PAGE = 200
VISITOR_EVENTS = 200
VISITOR_SESSIONS = 1000


@dataclass(frozen=True, slots=True)
class EventFilter:
    event_type: str | None = None
    funnel: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    visitor_key: str | None = None
    before: tuple[datetime, str] | None = None  # keyset cursor: (occurred_at, id) of the last row seen


@dataclass(frozen=True, slots=True)
class EventView:
    event: Event
    visitor_key: str | None


@dataclass(frozen=True, slots=True)
class VisitorView:
    visitor: Visitor
    user_id: str | None
    sessions: list[VisitSession]
    events: list[EventView]  # the latest VISITOR_EVENTS, oldest first
    more_events: bool


class TrackingReader:
    """Account-scoped reads: every query is filtered by the account id it was built with."""

    def __init__(self, session: Session, account_id: str) -> None:
        self.session = session
        self.account_id = account_id

    def visitor(self, visitor_key: str) -> VisitorView | None:
        visitor = self.session.execute(
            select(Visitor).where(Visitor.account_id == self.account_id, Visitor.visitor_key == visitor_key)
        ).scalar_one_or_none()
        if visitor is None:
            return None
        user_id = None
        if visitor.identity_id is not None:
            user_id = self.session.execute(
                select(Identity.user_id).where(
                    Identity.account_id == self.account_id, Identity.id == visitor.identity_id
                )
            ).scalar_one_or_none()
        sessions = list(
            self.session.execute(
                select(VisitSession)
                .where(VisitSession.account_id == self.account_id, VisitSession.visitor_id == visitor.id)
                .order_by(VisitSession.started_at.desc(), VisitSession.id.desc())
                .limit(VISITOR_SESSIONS)
            ).scalars()
        )
        sessions.reverse()
        events = self.events(EventFilter(visitor_key=visitor_key), VISITOR_EVENTS + 1)
        more = len(events) > VISITOR_EVENTS
        events = events[:VISITOR_EVENTS]
        events.reverse()
        return VisitorView(visitor, user_id, sessions, events, more)

    def events(self, filters: EventFilter, limit: int) -> list[EventView]:
        """Newest first, at most ``limit`` rows."""
        query = (
            select(Event, Visitor.visitor_key)
            .outerjoin(Visitor, Visitor.id == Event.visitor_id)
            .where(Event.account_id == self.account_id)
        )
        if filters.event_type is not None:
            query = query.where(Event.event_type == filters.event_type)
        if filters.funnel is not None:
            query = query.where(Event.funnel == filters.funnel)
        if filters.start is not None:
            query = query.where(Event.occurred_at >= filters.start)
        if filters.end is not None:
            query = query.where(Event.occurred_at < filters.end)
        if filters.visitor_key is not None:
            query = query.where(Event.visitor_id == visitor_row_id(self.account_id, filters.visitor_key))
        if filters.before is not None:
            at, last_id = filters.before
            query = query.where((Event.occurred_at < at) | ((Event.occurred_at == at) & (Event.id < last_id)))
        query = query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)
        return [EventView(event, key) for event, key in self.session.execute(query).all()]
