"""Queries on articles and channel state. Every write to a delivery lives in ``ledger``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from distributor import database, errors
from distributor.clock import Clock, utcnow
from distributor.config import StoreConfig
from distributor.hooks import events as hook_events
from distributor.hooks.config import HookConfig
from distributor.models import Article, ArticleStatus, ChannelState, Delivery, DeliveryStatus
from distributor.types import ArticleDraft, MessageRef


@dataclass(frozen=True, slots=True)
class Queued:
    """What happened when a story was queued: its id and whether it was new."""

    article_id: int
    created: bool
    article: Article | None = None  # the new row, when ``created``


class Store:
    """The database: one engine, short transactions, aware UTC times from ``clock``."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        # The configured event webhooks: events about stories are queued in the same
        # transaction as the change (see distributor.hooks). Set by whoever has the config.
        self.hooks: Sequence[HookConfig] = ()
        # Built once, values bound at each execution: building and keying an INSERT per story
        # cost more CPU than the rest of an API creation.
        table = Article.__table__
        self._add_article = (
            self.insert(table)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(*table.columns)
        )

    @classmethod
    async def open(
        cls, config: StoreConfig, *, clock: Clock = utcnow, auto_upgrade: bool | None = None
    ) -> Store:
        """Connect; SQLite is migrated automatically, other stores must already be current."""
        pool: dict[str, int] = {}
        if database.normalise_url(config.url).startswith("postgresql"):
            pool = {"pool_size": config.pool_size, "max_overflow": config.max_overflow}
        engine = database.create_engine(config.url, echo=config.echo, **pool)
        if auto_upgrade is None:
            auto_upgrade = engine.dialect.name == "sqlite"
        try:
            await database.ensure_schema(engine, auto_upgrade=auto_upgrade)
        except errors.StoreError:
            await engine.dispose()
            raise
        except Exception as exc:
            await engine.dispose()
            raise errors.StoreError(
                f"cannot open the store at {database.safe_url(config.url)}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return cls(engine, clock)

    async def close(self) -> None:
        await self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def insert(self, table: Any) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that supports ``on_conflict_do_nothing`` on this backend."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def session(self) -> AsyncSession:
        return self.sessions()

    # -- articles ---------------------------------------------------------------------------

    async def add_article(
        self,
        draft: ArticleDraft,
        then: Callable[[AsyncConnection, Article], Awaitable[None]] | None = None,
    ) -> Queued:
        """Queue a story once: a second copy (same id, URL or text) is a no-op.

        ``then`` runs in the same transaction when the story is new (the desk's audit entry
        and wake-up): one commit, not several. The new row is in ``Queued.article``.
        """
        now = self.clock()
        values = {
            "dedup_key": draft.dedup_key,
            "external_id": draft.external_id,
            "title": draft.title,
            "standfirst": draft.standfirst,
            "body": draft.body,
            "body_format": draft.body_format,
            "url": draft.url,
            "image": draft.image,
            "language": draft.language,
            "tags": list(draft.tags),
            "priority": draft.priority,
            "publish_at": draft.publish_at,
            "status": ArticleStatus.QUEUED,
            "version": 1,
            "source": draft.source,
            "follow_up_of": draft.follow_up_of,
            "created_at": now,
            "updated_at": now,
        }
        # Core, not the ORM session: this is the API's hot path (one round trip per statement,
        # none of the unit of work's bookkeeping).
        async with self.engine.begin() as conn:
            row = (await conn.execute(self._add_article, values)).first()
            if row is not None:
                article = Article(**row._mapping)
                if self.hooks:
                    story = {"story_id": article.id, "title": draft.title, "url": draft.url,
                             "publish_at": draft.publish_at.isoformat()}  # fmt: skip
                    await hook_events.enqueue(conn, self.hooks, "story.queued", story, now)
                if then is not None:
                    await then(conn, article)
                return Queued(article.id, True, article)
            existing = await conn.scalar(
                select(Article.id).where(Article.dedup_key == draft.dedup_key)
            )
        assert existing is not None
        return Queued(existing, False)

    async def get_article(self, article_id: int) -> Article | None:
        async with self.session() as session:
            return await session.get(Article, article_id)

    async def articles(self, ids: Sequence[int]) -> dict[int, Article]:
        if not ids:
            return {}
        async with self.session() as session:
            rows = await session.scalars(select(Article).where(Article.id.in_(ids)))
            return {a.id: a for a in rows}

    async def recent_articles(self, limit: int = 50) -> list[Article]:
        async with self.session() as session:
            rows = await session.scalars(
                select(Article).order_by(Article.publish_at.desc(), Article.id.desc()).limit(limit)
            )
            return list(rows)

    async def post_refs(self, article_id: int, channel: str) -> list[MessageRef]:
        """Where ``article_id`` stands on ``channel`` now: none if never sent or withdrawn."""
        async with self.session() as session:
            row = (
                await session.execute(
                    select(Delivery.refs, Delivery.status, Delivery.operation)
                    .join(Article, Article.id == Delivery.article_id)
                    .where(
                        Delivery.article_id == article_id,
                        Delivery.channel == channel,
                        Article.status != ArticleStatus.RETRACTED,
                    )
                )
            ).first()
        if row is None or row.status in (DeliveryStatus.DELETED, DeliveryStatus.CANCELLED):
            return []
        return [MessageRef.from_json(ref) for ref in row.refs or []]

    async def deliveries_for(self, article_ids: Sequence[int]) -> list[Delivery]:
        if not article_ids:
            return []
        async with self.session() as session:
            rows = await session.scalars(
                select(Delivery)
                .where(Delivery.article_id.in_(article_ids))
                .order_by(Delivery.article_id, Delivery.channel)
            )
            return list(rows)

    async def revise_article(
        self, session: AsyncSession, article_id: int, draft: ArticleDraft, now: datetime
    ) -> Article:
        """Store a correction as the article's next version, in the caller's transaction.

        ``Ledger.correct`` calls this and schedules the edits in the same transaction.

        Raises:
            LookupError: no such article.
            ValueError: the article was retracted.
        """
        article = await session.get(Article, article_id, with_for_update=True)
        if article is None:
            raise LookupError(f"no article with id {article_id}")
        if article.status == ArticleStatus.RETRACTED:
            raise ValueError(f"article {article_id} was retracted; it cannot be corrected")
        article.title = draft.title
        article.standfirst = draft.standfirst
        article.body = draft.body
        article.body_format = draft.body_format
        article.url = draft.url or article.url
        article.image = draft.image
        article.language = draft.language
        article.tags = list(draft.tags) or article.tags
        article.version += 1
        article.updated_at = now
        return article

    async def withdraw_article(
        self, session: AsyncSession, article_id: int, now: datetime
    ) -> Article:
        """Mark the article retracted, in the caller's transaction (``Ledger.retract``).

        Raises:
            LookupError: no such article.
        """
        article = await session.get(Article, article_id, with_for_update=True)
        if article is None:
            raise LookupError(f"no article with id {article_id}")
        article.status = ArticleStatus.RETRACTED
        article.updated_at = now
        return article

    # -- channel state ----------------------------------------------------------------------

    async def channel_states(self) -> dict[str, ChannelState]:
        async with self.session() as session:
            rows = await session.scalars(select(ChannelState))
            return {row.channel: row for row in rows}

    async def paused_channels(self) -> dict[str, str]:
        async with self.session() as session:
            rows = await session.execute(
                select(ChannelState.channel, ChannelState.reason).where(ChannelState.paused)
            )
            return {name: reason or "" for name, reason in rows}

    async def _upsert_state(self, channel: str, **values: Any) -> None:
        now = self.clock()
        row: dict[str, Any] = {"data": {}, "paused": False, **values}
        stmt = self.insert(ChannelState).values(channel=channel, updated_at=now, **row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["channel"], set_={**values, "updated_at": now}
        )
        async with self.session() as session, session.begin():
            await session.execute(stmt)

    async def pause_channel(
        self, channel: str, reason: str, notice: hook_events.Notice | None = None
    ) -> bool:
        """Pause a channel; returns False when it was paused already (so alert only once).

        One statement decides, so two workers pausing at once cannot both return True.
        ``notice`` (``channel.paused``) is queued for the hooks in the same transaction.
        """
        now = self.clock()
        values = {"paused": True, "reason": reason, "paused_at": now, "updated_at": now}
        stmt = (
            self.insert(ChannelState)
            .values(channel=channel, data={}, **values)
            .on_conflict_do_update(
                index_elements=["channel"], set_=values, where=ChannelState.paused.is_(False)
            )
            .returning(ChannelState.channel)
        )
        async with self.session() as session, session.begin():
            paused = (await session.execute(stmt)).first() is not None
            if paused and notice is not None and self.hooks:
                await hook_events.enqueue(session, self.hooks, notice.event, notice.data, now)
            return paused

    async def resume_channel(self, channel: str, notice: hook_events.Notice | None = None) -> bool:
        """Un-pause a channel; returns False when it was not paused.

        ``notice`` (``channel.resumed``) is queued for the hooks in the same transaction.
        """
        now = self.clock()
        stmt = (
            update(ChannelState)
            .where(ChannelState.channel == channel, ChannelState.paused.is_(True))
            .values(paused=False, reason=None, paused_at=None, updated_at=now)
            .returning(ChannelState.channel)
        )
        async with self.session() as session, session.begin():
            resumed = (await session.execute(stmt)).first() is not None
            if resumed and notice is not None and self.hooks:
                await hook_events.enqueue(session, self.hooks, notice.event, notice.data, now)
            return resumed

    async def channel_data(self, channel: str) -> dict[str, str]:
        async with self.session() as session:
            state = await session.get(ChannelState, channel)
            return dict(state.data) if state is not None else {}

    async def set_channel_data(self, channel: str, key: str, value: str) -> None:
        data = await self.channel_data(channel)
        data[key] = value
        await self._upsert_state(channel, data=data)
