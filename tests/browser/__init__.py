"""Helpers for the browser tests (``tests/test_browser_*.py``): JupyterLab in Chromium."""
