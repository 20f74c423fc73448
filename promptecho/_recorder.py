"""The decisions: replay or record, and what a mode means.

Everything here is pure and flavour-neutral: it sees methods, URLs, header pairs, bytes
and Structs, never an httpx object, so both adapters (httpx and httpx2) share it and it
can be tested without a network. The `Index` knows the recordings and their plays, the
`Keeper` writes new ones; the `Recorder` decides between them, in `Recorder.decide`.

State that many threads or tasks share (the index's plays, the misses, the drift)
changes only under one lock, and never across an ``await`` or a network call.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec

from ._canonical import canonicalize_request
from ._cassette import (
    Cassette,
    Interaction,
    Pending,
    RecordedRequest,
    Usage,
    index_from_bytes,
    read_if_exists,
)
from ._errors import (
    CassetteError,
    CassetteExpired,
    CassetteExpiredWarning,
    CassetteMiss,
    Difference,
    Drift,
    Verification,
)
from ._index import Entry, Index, Replay, drift, key_of
from ._keeper import HeaderList, Keeper, Record, secrets_module
from ._options import Options
from ._redact import redact_request_headers, redact_url
from ._store import delete_cassette, fold, has_journal, read_merged
from ._types import Headers, Mode
from ._version import VERSION

if TYPE_CHECKING:
    from datetime import timedelta

    from ._types import HeaderSource

__all__ = ["HeaderList", "Policy", "Record", "Recorder", "Replay", "policy"]


class Policy:
    """What a mode means: whether recordings answer, when a miss may record, what is kept."""

    __slots__ = ("deletes", "records", "replaces", "replays", "verifies")

    def __init__(
        self,
        *,
        replays: bool,
        records: Literal["never", "when-new", "always"],
        replaces: bool = False,
        deletes: bool = False,
        verifies: bool = False,
    ) -> None:
        self.replays = replays  # a matching recording answers
        self.records = records  # an unanswered request goes upstream and is kept
        self.replaces = replaces  # the recordings this run does not make are dropped
        self.deletes = deletes  # the cassette and its journal are deleted before anything
        self.verifies = verifies  # live answers are compared with the recordings, not kept

    def __repr__(self) -> str:
        return (
            f"Policy(replays={self.replays}, records={self.records!r}, "
            f"replaces={self.replaces}, deletes={self.deletes}, verifies={self.verifies})"
        )


def policy(mode: Mode) -> Policy:
    """The one place that says what each mode means (the README's table, as code)."""
    match mode:
        case "once":  # replay; record only into a cassette that does not exist yet
            return Policy(replays=True, records="when-new")
        case "none":  # replay only: CI, and anyone who must never call out
            return Policy(replays=True, records="never")
        case "new_episodes":  # replay what matches, record what does not
            return Policy(replays=True, records="always")
        case "all":  # record everything anew; the file keeps this run's interactions only
            return Policy(replays=False, records="always", replaces=True)
        case "rewrite":  # delete the cassette and its journal, then record everything
            return Policy(replays=False, records="always", deletes=True)
        case "verify":  # go live, compare each answer with its recording, write nothing
            return Policy(replays=False, records="always", verifies=True)
    raise AssertionError(f"unhandled mode {mode!r}")  # pragma: no cover - Options checks it


class Recorder:
    """One cassette's record-and-replay state.

    ``options`` are a transport's (`Options`); ``path`` is the cassette file. Several
    transports may share one recorder: then they share its plays, misses and drift.
    """

    def __init__(self, path: str | os.PathLike[str], options: Options | None = None) -> None:
        options = options if options is not None else _DEFAULT_OPTIONS
        file = os.fspath(path)
        if not isinstance(file, str):
            raise TypeError(f"a cassette path must be a str or a path, not {path!r}")
        # A string: a transport is built per test, and a Path costs more to build than the
        # syscalls it is used for. `path` builds the Path when someone asks.
        self._file = file
        self._path = path if isinstance(path, Path) else None
        self.options = options
        self.policy = policy(options.mode)
        self.misses: list[CassetteMiss] = []
        self.drift: list[Drift] = []
        self._lock = threading.Lock()
        self._index = Index()
        self._keeper = Keeper(file, lambda: self.path, options, VERSION)
        # Recording is the keeper's: a `Record` decision comes back through these.
        if self.policy.verifies:
            self._keeper.sink = self._verified
        self.verifications: list[Verification] = []
        self.complete = self._keeper.complete
        self.fail = self._keeper.fail
        self.admit = self._keeper.admit
        self.existed = self._load()

    @property
    def path(self) -> Path:
        """The cassette file."""
        if self._path is None:
            self._path = Path(self._file)
        return self._path

    @property
    def mode(self) -> Mode:
        return self.options.mode

    @property
    def recorded(self) -> int:
        """How many interactions this recorder has kept."""
        return self._keeper.recorded

    # -- loading ----------------------------------------------------------------------

    def _load(self) -> bool:
        if self.policy.deletes:  # a re-record: "existed" says whether there was one before
            return delete_cassette(self.path)
        if self.policy.records == "never" or self.policy.verifies:
            # Nothing will be written: the journal's lines are read too, and nothing is
            # written (a read-only checkout with a leftover journal replays).
            data = read_merged(self._file)
        else:
            # A journal left by a killed process is folded in first, so it is never lost.
            data = fold(self.path, fsync=self.options.fsync) if has_journal(self._file) else None
            if data is None:
                data = read_if_exists(self._file)
        if data is None:
            return False
        interactions: Sequence[Interaction | Pending]
        if self.policy.replaces:
            # A re-record compares whole interactions; the others decode responses lazily.
            whole = Cassette.from_bytes(data, self._file).interactions
            self._keeper.replaced = {msgspec.json.encode(i) for i in whole}
            interactions = list[Interaction | Pending](whole)
        else:
            interactions = list[Interaction | Pending](index_from_bytes(data, self._file))
        paths = self.options.redaction.request_paths
        match_on = self.options.match_on
        for number, interaction in enumerate(interactions):
            request = interaction.request
            body = request.body
            if paths:
                # Idempotent on a redacted body; lets a cassette recorded before a
                # `request:` rule was added still match.
                body = secrets_module().redact_json(body, paths)
            key = key_of(request.method, request.url, request.api, request.stream, body, match_on)
            self._index.add(Entry(number, interaction, key, self._file))
        max_age = self.options.max_age
        if max_age is not None and self._expired(interactions, max_age):
            self._index = Index()  # deleted, to be recorded anew
        return True

    def _expired(self, interactions: Sequence[Interaction | Pending], max_age: timedelta) -> bool:
        """Apply ``on_expiry`` when the oldest recording is older than ``max_age``; True when
        the cassette is to be recorded anew (``rerecord``)."""
        oldest = min((i.recorded_at for i in interactions if i.recorded_at), default=None)
        if oldest is None:  # recorded before promptecho stamped recordings: age unknown
            return False
        from datetime import UTC, datetime  # only with max_age

        age = datetime.now(UTC) - datetime.strptime(oldest, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC
        )
        if age <= max_age:
            return False
        expired = CassetteExpired(self.path, oldest, age, max_age)
        match self.options.on_expiry:
            case "warn":
                warnings.warn(CassetteExpiredWarning(str(expired)), stacklevel=5)
                return False
            case "fail":
                raise expired
            case "rerecord":
                delete_cassette(self.path)
                self.policy = policy("rewrite")
                return True
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the decision -----------------------------------------------------------------

    def decide(
        self, method: str, url: str, headers: Headers | HeaderSource, body: bytes
    ) -> Replay | Record:
        """Replay a recording, or say that the request must go upstream; raise on a miss.

        ``headers`` are pairs, or (from the adapters) the flavour's ``Headers``, read only
        as far as needed: a replay looks up two of them.
        """
        if isinstance(headers, list | tuple):
            headers = HeaderList(list(headers))
        upgrade = headers.get("upgrade")
        if upgrade:
            raise CassetteError(
                self.path,
                f"cannot record or replay {method.upper()} "
                f"{redact_url(url, self.options.redaction)}: it asks to switch the "
                f"connection to {upgrade!r} (Upgrade header), and a cassette holds HTTP "
                "request/response pairs, not the protocol that follows a 101 "
                "(for WebSockets, see promptecho.WebSocketEcho)",
            )
        options = self.options
        secrets: list[str] = []
        stored_url = redact_url(url, options.redaction, secrets)
        canonical = canonicalize_request(url, body, headers.get("content-type"))
        request_body = canonical.body
        if options.redaction.request_paths:
            # Before the key: the incoming request must match its redacted recording.
            request_body = secrets_module().redact_json(
                request_body, options.redaction.request_paths
            )
        key = key_of(
            method, stored_url, canonical.api, canonical.stream, request_body, options.match_on
        )
        rules = self.policy
        with self._lock:
            entry = (
                self._index.take(key, options.allow_repeats)
                if rules.replays or rules.verifies
                else None
            )
            match entry, rules:
                case Entry(), Policy(replays=True):
                    self._note_drift(entry, method, stored_url, request_body)
                    return entry.replay()
                case _, Policy(verifies=True):
                    pass  # upstream, then held to the recording (if one matched)
                case None, Policy(records="always"):
                    pass
                case None, Policy(records="when-new") if not self.existed:
                    pass
                case _:
                    miss = self._miss(
                        method,
                        stored_url,
                        key,
                        canonical.stream,
                        request_body,
                        canonical.api,
                        # an unparsed body is matched as raw JSON: say why
                        note=canonical.unparsed,
                    )
                    self.misses.append(miss)
                    raise miss
        request = RecordedRequest(
            method=method.upper(),
            url=stored_url,
            api=canonical.api,
            stream=canonical.stream,
            headers=redact_request_headers(headers.multi_items(), options.redaction, secrets),
            body=request_body,
            unparsed=canonical.unparsed,
        )
        return Record(request, secrets, entry.interaction if entry is not None else None)

    def _note_drift(self, entry: Entry, method: str, url: str, body: object) -> None:
        request = entry.request
        differences = drift(request.body, body, request.api, self.options.match_on)
        if differences:
            self.drift.append(Drift(self.path, entry.number, method.upper(), url, differences))

    def _verified(self, live: Interaction, record: Record) -> None:
        """Verify mode: hold a live answer to the recording its request matched."""
        from ._compare import compare  # only a verify run compares answers

        recorded = record.compare_to
        request = live.request
        line = f"{request.method} {request.url}"
        if recorded is None:
            verification = Verification(self.path, None, line, "not recorded")
        else:
            verdict = compare(
                request.api,
                recorded.response,
                live.response,
                recorded_error=recorded.error.type if recorded.error else None,
                new_error=live.error.type if live.error else None,
            )
            verification = Verification(
                self.path,
                self._index.number_of(recorded),
                line,
                verdict.kind,
                ratio=verdict.ratio,
                changes=verdict.changes,
            )
        with self._lock:
            self.verifications.append(verification)

    def replayed(self) -> list[tuple[str | None, int, Usage | None]]:
        """For each recording played: its model, how many times, and the tokens it used."""
        if not self.policy.replays:  # verify takes recordings to compare, replays none
            return []
        return [
            (_model_of(e.request.body), e.plays, e.usage) for e in self._index.entries if e.plays
        ]

    # -- the end ------------------------------------------------------------------------

    def close(self) -> None:
        """Fold this run's recordings into the cassette file."""
        self._keeper.close()

    def unplayed(self) -> list[Interaction]:
        """Recorded interactions this run never replayed (stale recordings)."""
        if not self.policy.replays:
            return []
        return [e.interaction for e in self._index.unplayed()]

    @property
    def size(self) -> int:
        """How many recorded interactions the cassette held when it was loaded."""
        return len(self._index.entries)

    def played(self) -> list[int]:
        """The numbers of the recorded interactions this run replayed."""
        return self._index.played() if self.policy.replays else []

    def explain_unplayed(self) -> str:
        """What this cassette holds that was not played, and how each differs from the
        closest request that was: empty when everything was played."""
        if not self.policy.replays:
            return ""
        lines = self._index.explain_unplayed(self.options.match_on)
        if not lines:
            return ""
        count = len(self._index.unplayed())
        noun = "interaction" if count == 1 else "interactions"
        return "\n".join([f"{self.path} holds {count} {noun} this test did not play:", *lines])

    # -- misses -------------------------------------------------------------------------

    def _miss(
        self,
        method: str,
        url: str,
        key: tuple[str, str, str, bool, bytes],
        stream: bool,
        body: object,
        api: str,
        note: str | None = None,
    ) -> CassetteMiss:
        if not self.existed:
            reason = f"The cassette does not exist, and mode {self.mode!r} does not record."
            closest: int | None = None
            differences: list[Difference] = []
        else:
            reason, closest, differences = self._index.explain_miss(
                key, stream, body, api, self.options.match_on
            )
        if note:
            reason = f"{reason} This request's body was {note}.".lstrip()
        return CassetteMiss(
            self.path,
            method,
            url,
            self.mode,
            reason=reason,
            closest=closest,
            differences=differences,
        )


def _model_of(body: object) -> str | None:
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


_DEFAULT_OPTIONS = Options()
