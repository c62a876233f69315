"""Gradio tabs: thin modules that convert widget values, call ``playground``, and format."""
