"""The Fine-tuning tab: ``page`` (start, watch, history), ``after`` (chat, merge, push), ``plots``."""
