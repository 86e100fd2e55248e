"""Live events and notifications of the case flow (issue 18).

- :mod:`geo.notify.rules`: who is told what, written to ``outbox`` in the case change's own
  transaction (called by :func:`geo.incidents.cases.add_event`, the one place case events are
  written) and by the periodic scan (overdue, escalation);
- :mod:`geo.notify.events`: the ``wangge_events`` notification and the live event's JSON;
- :mod:`geo.notify.deliver`: the delivery worker (``wangge notify run``) and its channels.
"""
