"""Imports every model module so metadata (and Alembic) sees all tables."""

from server.audit import models as audit_models  # noqa: F401
from server.biometrics import models as biometrics_models  # noqa: F401
from server.evidence import models as evidence_models  # noqa: F401
from server.identity import models as identity_models  # noqa: F401
from server.keys import models as key_models  # noqa: F401
from server.supervision import models as supervision_models  # noqa: F401
from server.supervision import models_activity as supervision_activity  # noqa: F401
from server.supervision import models_alerts as supervision_alerts  # noqa: F401
