"""A unit of work: one transaction and the repositories bound to it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage import locks
from storage.alerts import AlertRepository
from storage.audit import AuditRepository
from storage.changes import ChangeRepository
from storage.console import ConsoleMessageRepository
from storage.contexts import IncidentContextRepository
from storage.episodes import EpisodeRepository
from storage.escalations import EscalationRepository, PageRepository
from storage.feedback import FeedbackRepository
from storage.grouping_states import GroupingStateRepository
from storage.incidents import IncidentRepository
from storage.knowledge import KnowledgeRepository
from storage.messages import TrackedMessageRepository
from storage.platform import (
    ChatNoticeRepository,
    ConversationRefRepository,
    PlatformRequestRepository,
)
from storage.policies import PolicyFiringRepository
from storage.project_roles import ProjectRoleRepository
from storage.runs import RunRepository
from storage.schedules import ScheduledRunRepository
from storage.threads import ChatThreadRepository
from storage.trackers import BlastTrackerRepository
from storage.users import UserRepository


class UnitOfWork:
    def __init__(self, session: AsyncSession, *, dialect: str) -> None:
        self.session = session
        self.dialect = dialect
        self.alerts = AlertRepository(session)
        self.incidents = IncidentRepository(session)
        self.episodes = EpisodeRepository(session)
        self.threads = ChatThreadRepository(session)
        self.users = UserRepository(session)
        self.project_roles = ProjectRoleRepository(session)
        self.audit = AuditRepository(session)
        self.console = ConsoleMessageRepository(session)
        self.requests = PlatformRequestRepository(session)
        self.conversations = ConversationRefRepository(session)
        self.notices = ChatNoticeRepository(session)
        self.runs = RunRepository(session)
        self.messages = TrackedMessageRepository(session)
        self.grouping = GroupingStateRepository(session)
        self.trackers = BlastTrackerRepository(session)
        self.changes = ChangeRepository(session)
        self.contexts = IncidentContextRepository(session)
        self.feedback = FeedbackRepository(session)
        self.knowledge = KnowledgeRepository(session)
        self.schedules = ScheduledRunRepository(session)
        self.escalations = EscalationRepository(session)
        self.pages = PageRepository(session)
        self.policies = PolicyFiringRepository(session)

    async def lock(self, key: int) -> None:
        """Serialize this transaction with every other holder of `key`, across replicas
        (`storage.locks.hold`)."""
        await locks.hold(self.session, key)

    async def flush(self) -> None:
        await self.session.flush()
