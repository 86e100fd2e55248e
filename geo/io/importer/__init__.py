"""``run_import``: files into PostGIS, a dry run unless told to commit, all or nothing.

Every import runs in ONE transaction. A dry run does all the work (rows staged with COPY,
merged, checked) and rolls back, so its report is exactly what a commit would do; a commit
that fails half-way (an error, a refused row without ``skip_refused``, a killed process)
leaves the database as it was. Re-importing the same file changes nothing (``unchanged``).

Modules: :mod:`.options` (:class:`ImportOptions`), :mod:`.report` (:class:`ImportReport`, the
one report shape), :mod:`.crs_plan` (the CRS of a layer), :mod:`.fields` (column
recognition), :mod:`.rows` (reading rows; the one polygon-row prelude), :mod:`.staging` (COPY
and merge), one module per layer and :mod:`.run` (:func:`run_import`).

Layers and their keys: ``cells`` (a new pending boundary set; see :mod:`geo.boundaries.sets`),
``admin`` (region + code), ``compounds`` (region + code), ``cameras`` (GB/T 28181 id),
``incidents`` (region + code, streamed: millions of rows in bounded memory), ``workers``
(region + code, optional assignment to a cell).
"""

from geo.io.importer.crs_plan import CrsPlan, plan_crs
from geo.io.importer.options import MAX_LISTED, ImportOptions, Progress
from geo.io.importer.report import ImportReport
from geo.io.importer.run import run_import

__all__ = ["MAX_LISTED", "CrsPlan", "ImportOptions", "ImportReport", "Progress", "plan_crs",
           "run_import"]
