"""Regions (counties): official boundaries and onboarding a county (``wangge region add``)."""
