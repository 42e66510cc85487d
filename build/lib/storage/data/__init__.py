"""Derived reference data shipped with the project (see ATTRIBUTION.md), and the scripts that rebuild it."""
