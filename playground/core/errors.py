"""Errors whose message is written for the person using the app, not for a developer.

The UI shows ``str(error)`` as it is, and the API passes it on, so messages say what was
tried and what to do next rather than carrying a stack trace.
"""


class PlaygroundError(Exception):
    """Base class: anything the user can act on."""


class UnknownModelError(PlaygroundError):
    """A model or tokenizer name that resolves to nothing loadable here."""


class InvalidInputError(PlaygroundError):
    """Input the library refuses (too long, malformed, out of range)."""


class BusyError(PlaygroundError):
    """Too many requests already wait for the same model: try again later rather than wait minutes."""


def is_out_of_memory(error: BaseException) -> bool:
    """Host ``MemoryError``, ``torch.OutOfMemoryError`` (CUDA) or an allocator's "out of memory" text."""
    return (isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"
            or "out of memory" in str(error).lower())
