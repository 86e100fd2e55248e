"""Who is asking, and what they may see: the scoping contract used by every way out.

Every endpoint, map, export and tile receives a :class:`Principal` (``api.deps.PrincipalDep``)
and passes it to the domain function, which filters rows in SQL with :func:`incident_scope_sql`
and masks personal fields with :meth:`Principal.may_see_personal` / :func:`mask_phone` /
:func:`mask_name`. Roles:

- ``admin``, ``command`` (指挥中心): everything in their regions, personal data unmasked.
- ``department`` (部门处置人员): incidents routed to ``department_code``; personal data of those.
- ``worker`` (网格员): incidents and residents of ``cell_codes`` (their cells *now*); the rest of
  the county only as cell outlines and aggregate counts.
- ``planner`` (规划/住建): aggregates and geometries, never personal fields.
- ``viewer``: public layers only (cells, admin units, compounds, cameras), no incidents' personal
  fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("admin", "command", "department", "worker", "planner", "viewer")
PERSONAL_FIELDS = ("reporter_name", "reporter_phone")


@dataclass(frozen=True)
class Principal:
    """The caller: user name, role and the scope the role is bound to."""

    user: str
    role: str
    regions: frozenset[str] | None = None  # None: every region
    cell_codes: frozenset[str] = field(default_factory=frozenset)
    department_code: str | None = None

    def in_region(self, region_code: str) -> bool:
        """True when the caller may see anything of ``region_code``."""
        return self.regions is None or region_code in self.regions

    def sees_all_incidents(self) -> bool:
        """True for roles that read every incident (with personal data) of their regions."""
        return self.role in ("admin", "command")

    def may_see_incident(self, cell_code: str | None, department_code: str | None) -> bool:
        """True when the caller may read this incident's details."""
        if self.sees_all_incidents():
            return True
        if self.role == "worker":
            return cell_code is not None and cell_code in self.cell_codes
        if self.role == "department":
            return department_code is not None and department_code == self.department_code
        return False

    def may_see_personal(self, cell_code: str | None, department_code: str | None) -> bool:
        """True when the caller may read reporter names/phones of this incident unmasked."""
        return self.may_see_incident(cell_code, department_code)


ANONYMOUS_COMMAND = Principal(user="anonymous", role="command")


def mask_phone(phone: str | None) -> str | None:
    """138****1234."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


def mask_name(name: str | None) -> str | None:
    """张* (family name kept)."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def incident_scope_sql(
    principal: Principal, alias: str = "incident"
) -> tuple[str, dict[str, object]]:
    """A SQL condition (and its bind parameters) restricting incidents to the caller's scope.

    Returns ``("TRUE", {})`` for roles that see everything. Use it in every query that returns
    incident rows with details; aggregates for planners/viewers may skip it but must never
    return personal fields.
    """
    conds: list[str] = []
    params: dict[str, object] = {}
    if principal.regions is not None:
        conds.append(f"{alias}.region_code = ANY(:scope_regions)")
        params["scope_regions"] = sorted(principal.regions)
    if principal.sees_all_incidents():
        pass
    elif principal.role == "worker":
        conds.append(f"{alias}.cell_code = ANY(:scope_cells)")
        params["scope_cells"] = sorted(principal.cell_codes)
    elif principal.role == "department":
        conds.append(f"{alias}.department_code = :scope_dept")
        params["scope_dept"] = principal.department_code
    else:
        conds.append("FALSE")
    return (" AND ".join(conds) or "TRUE"), params
