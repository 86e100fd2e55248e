"""Incident dispatch (事件派遣): intake, routing, the case flow, working-time deadlines, KPIs.

Modules: ``calendar`` (China's working calendar), ``flow`` (the state machine), ``intake``
(one report, bulk hotline exports, photos), ``routing`` (cell, worker, department, cameras,
duplicates), ``cases`` (transitions, merge, reassignment, pause/extension, views), ``kpi``.
"""
