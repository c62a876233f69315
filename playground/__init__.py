"""LLM Playground library: models, tokenization and friends, usable without Gradio.

The Gradio app in ``app.py`` and ``tabs/`` is one client of this package; a notebook is another.
"""

__version__ = "0.1.0"

from playground.core.library_noise import quiet_library_noise

quiet_library_noise()  # before anything imports torchao or bitsandbytes
