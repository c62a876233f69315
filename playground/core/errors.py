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


def first_line(error_or_text: BaseException | str, limit: int = 300, *, with_type: bool = False) -> str:
    """The first non-blank line of a message, cut to ``limit`` characters with an ellipsis.

    Library errors (a Hub 404, a tokenizer's traceback-like text) can run to pages; a page or
    a log line wants one readable line. An exception with an empty message (``KeyError()``,
    ``TimeoutError()``) is named by its type instead, so the result is never blank for an error.
    ``with_type`` prefixes the type, as in ``ValueError: bad thing``.
    """
    text = str(error_or_text)
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if isinstance(error_or_text, BaseException):
        name = type(error_or_text).__name__
        line = f"{name}: {line}" if with_type and line else (line or name)
    return line if len(line) <= limit else line[:max(limit - 1, 0)] + "…"
