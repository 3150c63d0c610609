"""Staff roles and what each may do: the only place roles are listed.

A role is stored on the user as its string value (`Role` is a `StrEnum`, so `user.role == Role.ADMIN` and
plain strings compare equal).  Pages ask for a named permission below, never for a literal list of roles, so
"who may compare units" or "who may publish a period" is answered here once.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENCY_VIEWER = "agency_viewer"  # one agency
    UNIT_MANAGER = "unit_manager"  # a unit and the units below it
    HOME_AFFAIRS = "home_affairs"  # Sở Nội vụ: every agency, comparisons, reports, review
    ADMIN = "admin"  # everything, administration


#: every staff role, least to most privileged (the order of role choices in forms)
ROLES: tuple[str, ...] = tuple(r.value for r in Role)
STAFF = ROLES
#: roles that see every agency (no scope)
SEES_ALL: tuple[str, ...] = (Role.HOME_AFFAIRS, Role.ADMIN)
#: compare units, read the period report, moderate comments (a unit manager within its own units)
COMPARES_UNITS: tuple[str, ...] = (Role.UNIT_MANAGER, Role.HOME_AFFAIRS, Role.ADMIN)
MODERATES_COMMENTS = COMPARES_UNITS
#: review integrity flags, publish periods, read the administration pages (audit log, kiosks, tree)
REVIEWS_INTEGRITY = SEES_ALL
PUBLISHES_PERIODS = SEES_ALL
READS_ADMINISTRATION = SEES_ALL
#: change the tree, users, kiosks, questionnaires, imports
ADMINISTERS: tuple[str, ...] = (Role.ADMIN,)
