"""All models, imported so that ``Base.metadata`` knows every table (Alembic reads it).

Each feature keeps its tables in its own module here and adds one import line below.
"""

from storage.models.base import Base, UTCDateTime, utcnow  # noqa: F401
from storage.models.core import (  # noqa: F401
    AuditEntry,
    ChannelIdentity,
    Citizen,
    ConversationState,
    MessageLog,
    ProcessedUpdate,
)
from storage.models.channels import InboxUpdate, ZaloOAToken  # noqa: F401
from storage.models.pakn import (  # noqa: F401
    PaknAgency,
    PaknAttachment,
    PaknItem,
    PaknMessage,
    PaknNotice,
    StaffLoginFailure,
    StaffSession,
    StaffUser,
)
from storage.models.outbox import OutboxMessage  # noqa: F401
from storage.models.kb import KbVersion, ProcedureRow  # noqa: F401
from storage.models.dossiers import (  # noqa: F401
    DossierOwnership,
    DossierRateEvent,
    DossierRecord,
    DossierSubscription,
)
from storage.models.surveys import (  # noqa: F401
    Survey,
    SurveyAnswer,
    SurveyOptOut,
    SurveyQuestionnaire,
)
