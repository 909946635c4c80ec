"""Step-up runs against the same simulator as face login."""

from tests.face.conftest import settings_overrides, simulator  # noqa: F401
