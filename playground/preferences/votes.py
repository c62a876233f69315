"""Blind votes between two answers, kept per server as a preference dataset.

A :class:`Ballot` is two answers to one prompt in a random order, with the systems (model and settings)
behind them kept out of sight until the vote. A vote A or B becomes a preference pair (prompt, chosen,
rejected), the format TRL's DPO and reward trainers read; a tie or "both bad" is kept (it still counts for
the leaderboard, a tie as half a win each way) but never becomes a pair, since it says nothing about which
answer to prefer. Votes are appended to one JSONL file under a process lock and a file lock, each ballot
counted once: thirty students voting at once, or one double-clicking, lose nothing and count nothing twice.
"""

from __future__ import annotations

import fcntl
import json
import logging
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.preferences.ranking import Outcome, Standing, bradley_terry

log = logging.getLogger(__name__)
CHOICES = ("A", "B", "tie", "both bad")
FILE = "votes.jsonl"
PENDING = 1000
"""Ballots handed out and not yet voted on, kept per server: a class of 30 leaves far fewer open."""


@dataclass(frozen=True)
class Ballot:
    """What one voter sees: the prompt and two answers labelled A and B; ``systems`` stay hidden until voted."""

    id: str
    prompt: str
    answers: tuple[str, str]
    systems: tuple[str, str]

    @classmethod
    def blind(cls, prompt: str, first: tuple[str, str], second: tuple[str, str],
              rng: random.Random | None = None) -> Ballot:
        """``first`` and ``second`` are (system, answer); which one is shown as A is drawn at random."""
        shown = [first, second][::-1] if swapped(rng) else [first, second]
        return cls.shown(prompt, shown[0], shown[1])

    @classmethod
    def shown(cls, prompt: str, a: tuple[str, str], b: tuple[str, str]) -> Ballot:
        """A ballot with (system, answer) ``a`` shown as A and ``b`` as B, order already drawn. An empty answer
        (a model that stopped at once) is a real answer to vote against, so it is allowed."""
        if not prompt.strip():
            raise InvalidInputError("A ballot needs the prompt both answers are to.")
        return cls(uuid.uuid4().hex, prompt, (a[1], b[1]), (a[0], b[0]))

    def to_dict(self) -> dict[str, Any]:
        """What the page and the API hand out before the vote: no systems."""
        return {"id": self.id, "prompt": self.prompt, "a": self.answers[0], "b": self.answers[1]}


def swapped(rng: random.Random | None = None) -> bool:
    """Whether the second system is shown as A: a fair coin, so position tells the voter nothing."""
    return (rng or random.SystemRandom()).random() < 0.5


@dataclass(frozen=True)
class Vote:
    ballot: Ballot
    choice: str
    time: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.ballot.id, "prompt": self.ballot.prompt, "answer_a": self.ballot.answers[0],
                "answer_b": self.ballot.answers[1], "system_a": self.ballot.systems[0],
                "system_b": self.ballot.systems[1], "choice": self.choice, "time": self.time}


def pair_of(vote: dict[str, Any]) -> dict[str, str] | None:
    """The preference pair a stored vote makes, or None for a tie or "both bad"."""
    if vote["choice"] == "A":
        return {"prompt": vote["prompt"], "chosen": vote["answer_a"], "rejected": vote["answer_b"]}
    if vote["choice"] == "B":
        return {"prompt": vote["prompt"], "chosen": vote["answer_b"], "rejected": vote["answer_a"]}
    return None


def outcome_of(vote: dict[str, Any]) -> Outcome | None:
    """The comparison a stored vote makes for the leaderboard; "both bad" ranks neither."""
    score = {"A": 1.0, "B": 0.0, "tie": 0.5}.get(vote["choice"])
    return None if score is None else Outcome(vote["system_a"], vote["system_b"], score)


class VoteStore:
    """One server's votes in ``folder/votes.jsonl``; safe across threads and processes."""

    def __init__(self, folder: Path, pending: int = PENDING) -> None:
        self.path = Path(folder) / FILE
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, Ballot] = OrderedDict()
        self._pending_size = pending

    def hold(self, ballot: Ballot) -> Ballot:
        """Keep a ballot handed out until it is voted on (the oldest forgotten past ``pending``), so a
        client that only has its id (the API) can vote."""
        with self._lock:
            self._pending[ballot.id] = ballot
            while len(self._pending) > self._pending_size:
                self._pending.popitem(last=False)
        return ballot

    def cast_by_id(self, ballot_id: str, choice: str) -> Vote:
        with self._lock:
            ballot = self._pending.get(ballot_id)
        if ballot is None:
            raise InvalidInputError(f"No open ballot {ballot_id!r}: it was voted on, or is too old; generate a "
                                    "new pair of answers.")
        vote = self.cast(ballot, choice)
        with self._lock:
            self._pending.pop(ballot_id, None)
        return vote

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path.with_suffix(".lock"), "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def cast(self, ballot: Ballot, choice: str) -> Vote:
        """Record ``choice`` for ``ballot`` once; a second vote on the same ballot is refused."""
        if choice not in CHOICES:
            raise InvalidInputError(f"A vote is one of {', '.join(CHOICES)} (got {choice!r}).")
        vote = Vote(ballot, choice, time.time())
        with self._locked():
            if any(stored["id"] == ballot.id for stored in self._read()):
                raise InvalidInputError("This pair of answers was already voted on: generate a new pair.")
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(json.dumps(vote.to_dict(), ensure_ascii=False) + "\n")
        return vote

    def votes(self) -> list[dict[str, Any]]:
        with self._locked():
            return self._read()

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        votes = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                vote = json.loads(line)
                if vote["choice"] in CHOICES and vote["id"]:
                    votes.append(vote)
            except (json.JSONDecodeError, KeyError, TypeError):
                log.warning("%s line %d is not a vote; skipped", self.path, number)
        return votes

    def pairs(self) -> list[dict[str, str]]:
        """The preference dataset: one (prompt, chosen, rejected) per decisive vote."""
        return [pair for pair in map(pair_of, self.votes()) if pair is not None]

    def export(self, destination: Path) -> Path:
        """The pairs as JSONL at ``destination``, the format the DPO and reward trainers read."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in self.pairs()),
                               encoding="utf-8")
        return destination

    def leaderboard(self) -> list[Standing]:
        return bradley_terry(o for o in map(outcome_of, self.votes()) if o is not None)
