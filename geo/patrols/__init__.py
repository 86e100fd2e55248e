"""Patrols (巡查): tracks (:mod:`tracks`), key points and check-ins (:mod:`checkins`), the
analysis per cell, worker and ISO week (:mod:`analysis`), who sees what (:mod:`access`) and
retention (:mod:`retention`)."""
