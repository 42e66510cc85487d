"""Alembic migrations. Run them with `passerelle db upgrade`."""
