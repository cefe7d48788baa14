"""The supervision blueprints, registered by server.app."""

from server.supervision.routes_alerts import blp as alerts_blp
from server.supervision.routes_cases import blp as cases_blp
from server.supervision.routes_phone import blp as phone_blp

BLUEPRINTS = (cases_blp, phone_blp, alerts_blp)
