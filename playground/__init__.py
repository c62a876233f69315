"""LLM Playground library: models, tokenization and friends, usable without Gradio.

The Gradio app in ``app.py`` and ``tabs/`` is one client of this package; a notebook is another.
"""

__version__ = "0.1.0"
