"""Who may see and act on what: a user's role, districts and department, checked on every request.

A user sees the incidents of their districts (``*``: all districts); an administrator sees
everything; a department liaison sees the incidents reported to their department within
their districts, and may only answer them (a note). What a role may do to an incident it
sees is the workflow's ``RIGHTS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from yingyan.service.workflow import RIGHTS, Action, Role

ALL_DISTRICTS = "*"


@dataclass(frozen=True)
class Principal:
    """The user behind a request."""

    user_id: int
    username: str
    role: Role
    districts: frozenset[str]
    department: str | None = None
    supervisor: bool = False

    def in_district(self, district: str) -> bool:
        return self.role is Role.ADMIN or ALL_DISTRICTS in self.districts or district in self.districts

    def can_see(self, district: str, departments: list[str] | tuple[str, ...] = ()) -> bool:
        """Whether this user may see an incident of ``district`` reported to ``departments``."""
        if not self.in_district(district):
            return False
        if self.role is Role.LIAISON:
            return self.department is not None and self.department in departments
        return True

    def can_act(self, action: Action, district: str, departments: list[str] | tuple[str, ...] = ()) -> bool:
        """Whether this user may take ``action`` on an incident they see (the state aside)."""
        return self.can_see(district, departments) and action in RIGHTS[self.role]

    @property
    def receives_alerts(self) -> bool:
        """Whether alerts are pushed to this user's terminals (liaisons and viewers get none)."""
        return self.role in (Role.ADMIN, Role.DISPATCHER, Role.OFFICER)


SYSTEM = Principal(0, "system", Role.SYSTEM, frozenset({ALL_DISTRICTS}))
