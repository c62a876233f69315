"""Chat turns in a data cell: a JSON list of {"role", "content"}, as Hub chat and preference datasets store them.

One parser for SFT's ``messages`` column and DPO's conversational chosen/rejected (and prompt) cells, so
both name a bad turn the same way, by line, column and turn number.
"""

from __future__ import annotations

import json

from playground.core.errors import InvalidInputError

ROLES = ("system", "user", "assistant")
Turns = tuple[tuple[str, str], ...]


def parse_turns(text: str, where: str) -> Turns:
    """The (role, content) turns of a cell that must hold them; ``where`` names the cell in messages."""
    try:
        turns = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InvalidInputError(f"{where}: not a JSON list of chat turns.") from error
    if not isinstance(turns, list) or not turns:
        raise InvalidInputError(f"{where}: expected a list of turns like {{\"role\": \"user\", \"content\": "
                                "\"...\"}}.")
    parsed = []
    for index, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str) \
                or not turn["content"].strip():
            raise InvalidInputError(f"{where}: turn {index} needs a role ({', '.join(ROLES)}) and non-empty "
                                    "text content.")
        parsed.append((turn["role"], turn["content"].strip()))
    return tuple(parsed)


def looks_like_turns(text: str) -> bool:
    """Whether a cell is meant as chat turns (a JSON list whose first item has a role), not text that
    happens to start with a bracket; a cell that is meant as turns is then parsed strictly."""
    if not text.lstrip().startswith("["):
        return False
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text.lstrip().startswith('[{"role"')
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict) and "role" in value[0]
