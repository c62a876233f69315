"""Widgets and helpers more than one tab uses: errors to page messages, sampling controls, token views."""
