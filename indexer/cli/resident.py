"""A search process that stays loaded for a few minutes, so the next ``glimpse search`` answers at once.

Why: a search from a cold process pays Python and numpy (~0.1 s), ONNX Runtime's import and
the text tower's session (~0.25 s) and the ANN index (~0.2 s at 100k items) before it encodes
one word (bench/bench_cli.py). No lazy import removes those: the query needs all three. So,
as mypy's dmypy or Gradle's daemon do, the first search starts a process that keeps them
loaded and exits after ``LINGER`` seconds without a query; later searches hand it their
arguments over a private Unix socket and print what it answers. The client side is stdlib
only, or it would pay the imports it avoids. ``GLIMPSE_RESIDENT=0`` turns it off;
``GLIMPSE_RESIDENT=SECONDS`` sets how long it stays.

Every answer is the one a fresh process would give: the resident refuses (and exits) when
the code, the ``GLIMPSE_*`` environment, the library's settings or its model changed since
it started, and the client then searches in-process. New or removed files need no restart:
each search catches the index up with the database (``searching.fresh``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import socket
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from indexer.base.environment import PREFIX, Env, value
from indexer.base.location import Location
from indexer.base.processes import own_command

log = logging.getLogger(__name__)

LINGER = 300.0  # seconds without a query before the resident exits
COMMANDS = frozenset({"search"})  # read-only, and where start-up is most of the wait
CONNECT_TIMEOUT = 0.5  # a resident that does not accept at once is busy or hung: search in-process
READY_TIMEOUT = 1.0  # a resident busy with another client says nothing this long: search in-process
REQUEST_TIMEOUT = 2.0  # a client gets this long to send its question (a silent one holds nobody up)
ANSWER_TIMEOUT = 60.0
MAX_MESSAGE = 1 << 20  # bytes: a question is a command line; a length header above this is refused
READY = b"\x01"  # sent the moment a connection is taken up


def linger() -> float:
    """Seconds the resident stays; 0 when turned off (``GLIMPSE_RESIDENT``) or where there are no Unix sockets."""
    raw = value(Env.RESIDENT) or ""
    if not hasattr(socket, "AF_UNIX") or os.name != "posix":
        return 0.0
    try:
        return max(0.0, float(raw)) if raw else LINGER
    except ValueError:
        return LINGER


def stamp() -> str:
    """What a resident must share with a client to answer for it: the code and the GLIMPSE_* environment."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):  # the whole engine
        st = f.stat()
        h.update(f"{f}:{st.st_mtime_ns}:{st.st_size};".encode())
    # not the library: the socket is the library's own (a server library's address reaches the resident
    # as GLIMPSE_LIBRARY, so that its password never shows in a process list)
    for k in sorted(k for k in os.environ if k.startswith(PREFIX) and k not in (Env.RESIDENT, Env.LIBRARY)):
        h.update(f"{k}={os.environ[k]};".encode())
    h.update(f"{sys.executable}:{os.stat(sys.executable).st_mtime_ns}".encode())  # a frozen build's code is in it
    return h.hexdigest()


def socket_path(folder: Path) -> Path | None:
    """The library's socket, in a folder only this user can enter; None if that cannot be had safely.

    Not in the library folder itself: a Unix socket path is limited to ~100 bytes.
    """
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"glimpse-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(base)  # not followed: another user may plant a link here where the folder is /tmp
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None  # a link, made by someone else, or opened up: never talk through it
    key = hashlib.sha256(str(folder.expanduser().resolve()).encode()).hexdigest()[:20]
    return base / f"{key}.sock"


# the wire: one length-prefixed JSON message each way ---------------------------------
def send(sock: socket.socket, obj: dict) -> None:
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack("!I", len(data)) + data)


def receive(sock: socket.socket) -> dict:
    """One message: a JSON object of at most ``MAX_MESSAGE`` bytes (anything else is a ValueError)."""
    size = struct.unpack("!I", _exactly(sock, 4))[0]
    if size > MAX_MESSAGE:
        raise ValueError(f"a message of {size} bytes")
    obj = json.loads(_exactly(sock, size))
    if not isinstance(obj, dict):
        raise ValueError("a message that is not an object")
    return obj


def _exactly(sock: socket.socket, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise ConnectionError("the resident search closed the connection")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


# the client: inside `glimpse search` ------------------------------------------------
def ask(folder: Path, argv: list[str]) -> int | None:
    """The resident's exit status after printing its answer; None if no resident answered."""
    answer = _exchange(folder, {"stamp": stamp(), "argv": argv, "cwd": os.getcwd(), "tz": os.environ.get("TZ"),
                                "encoding": sys.stdout.encoding or "utf-8", "errors": sys.stdout.errors or "strict"})
    if answer is None or "rc" not in answer:
        return None  # stale: it is exiting; this search runs in-process
    sys.stdout.flush()
    sys.stdout.buffer.write(base64.b64decode(answer["out"]))
    sys.stdout.buffer.flush()
    sys.stderr.write(answer["err"])
    return int(answer["rc"])


def stop(folder: Path) -> None:
    """Ask the library's resident, if any, to exit now (a library about to be deleted or moved)."""
    _exchange(folder, {"stop": True})


def _exchange(folder: Path, message: dict) -> dict | None:
    """Send one message to the library's resident and return its answer; None if none answered."""
    path = socket_path(folder)
    if path is None or not path.exists():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(CONNECT_TIMEOUT)
            s.connect(str(path))
            s.settimeout(READY_TIMEOUT)  # busy with another client's search: this one runs in-process
            if _exactly(s, 1) != READY:
                return None
            s.settimeout(ANSWER_TIMEOUT)
            send(s, message)
            return receive(s)
    except (OSError, ValueError, ConnectionError):
        return None


def start(location: Location, seconds: float) -> None:
    """Start a resident for the library at ``location`` in the background (its own session: it outlives
    this shell's job)."""
    folder = location.folder
    path = socket_path(folder)
    if path is None:
        return
    command = own_command()
    # It runs in "/", not in the folder the search was typed in (which it would keep busy: a USB
    # stick could not be unmounted); the engine is found where this one was, not through the folder.
    engine = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (engine, os.environ.get("PYTHONPATH")) if p)}
    library = ["--library", str(folder.expanduser().resolve())]
    if location.server:
        env[Env.LIBRARY], library = location.server, []
    try:
        subprocess.Popen([*command, *library, "resident", "--linger", str(seconds)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                         cwd="/", env=env)
    except OSError:
        pass  # searches stay in-process


# the resident ---------------------------------------------------------------------------
Answer = Callable[[list[str], str, str], tuple[int, bytes, str]]  # argv, encoding, errors -> rc, stdout, stderr


def serve(folder: Path, seconds: float, answer: Answer, unchanged: Callable[[], bool]) -> None:
    """Answer searches for ``folder`` until ``seconds`` pass without one, or what it loaded is out of date."""
    path = socket_path(folder)
    if path is None or _alive(path):
        return  # another resident already answers for this library
    mine = path.with_name(f"{path.stem}.{os.getpid()}.sock")
    code = stamp()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(mine))
        server.listen(8)
        os.replace(mine, path)  # appears whole: a client never connects to a half-made socket
        ino = path.stat().st_ino

        def leave() -> None:  # before the last answer: whoever hears it finds no resident left
            try:
                if path.stat().st_ino == ino:
                    path.unlink()
            except OSError:
                pass

        try:
            _loop(server, seconds, code, answer, unchanged, leave)
        finally:
            leave()


def _alive(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(CONNECT_TIMEOUT)
            s.connect(str(path))
            return True
    except OSError:
        return False


def _loop(server: socket.socket, seconds: float, code: str, answer: Answer, unchanged: Callable[[], bool],
          leave: Callable[[], None]) -> None:
    server.settimeout(seconds)
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            return
        with conn:
            try:
                conn.settimeout(REQUEST_TIMEOUT)
                conn.sendall(READY)
                req = receive(conn)
                if req.get("stop") is True or _other_code(req.get("stamp"), code) or not unchanged():
                    leave()
                    send(conn, {"stale": True})
                    return
                conn.settimeout(ANSWER_TIMEOUT)
                send(conn, _answered(req, answer))
            except Exception as e:  # noqa: BLE001 - whatever one client sends, the next one is served
                log.info("resident: a connection ended: %s", e)
            finally:
                os.chdir("/")  # the client's folder is not kept busy


def _other_code(theirs: object, code: str) -> bool:
    """A client of other code or environment (a stamp, but not ours): this resident is out of date and
    steps aside. Anything that is not a stamp at all is a malformed message, answered by nothing."""
    if isinstance(theirs, str) and len(theirs) == len(code) and all(c in "0123456789abcdef" for c in theirs):
        return theirs != code
    raise ValueError("a request without a stamp")


def _answered(req: dict, answer: Answer) -> dict:
    """The answer to a well-formed search request, in the client's folder and time zone."""
    argv, cwd, tz = req["argv"], req["cwd"], req.get("tz")
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv) and isinstance(cwd, str)
            and isinstance(tz, str | None) and isinstance(req["encoding"], str) and isinstance(req["errors"], str)):
        raise ValueError("a request of the wrong shape")
    os.chdir(cwd)
    if tz != os.environ.get("TZ"):
        if tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = tz
        time.tzset()
    rc, out, err = answer(argv, req["encoding"], req["errors"])
    return {"rc": rc, "out": base64.b64encode(out).decode(), "err": err}
