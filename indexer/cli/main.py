"""``glimpse``: the command-line shell over ``indexer.Library``: its arguments, and running a command.

Command bodies (``commands.py``) only call the library and print; library errors become a
one-line message and exit status 2. Nothing heavy is imported until a command runs,
so ``glimpse --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from indexer.base import collector
from indexer.base.environment import WATCH_POLL_S, WATCH_SETTLE_S, Env, value
from indexer.base.paths import display
from indexer.base.processes import own_command
from indexer.cli import resident
from indexer.cli.commands import COMMANDS, PARTIAL

__all__ = ["PARTIAL", "build_parser", "main"]


EPILOG = """examples:
  glimpse index ~/Pictures                      add a folder and index it
  glimpse search "a dog on a beach at sunset"   search by text
  glimpse search --image holiday.jpg            search by example
  glimpse search "in winter" --image cabin.jpg  composed: this photo, but in winter
  glimpse search "beach" --minus "people" --kind photo --json
  glimpse search '"SALE"'                       words in quotes: pictures showing exactly them
  glimpse search 'receipt 42.50'                 picture search, raised where the words are in the picture
  glimpse text receipt.jpg                      what was read in a picture
  glimpse settings read_text off                do not read text in pictures for this library

exit status: 0 done, 2 the command failed (message on stderr), 3 indexing finished but some
files could not be indexed (`glimpse status --errors` lists them). Messages from libraries
go to glimpse.log in the library folder (--verbose shows them).
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="glimpse", description="Find photos and video moments on your disk.",
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", metavar="DIR|URL", help="library folder, or a postgresql:// address of a library "
                    "several computers share (default: $GLIMPSE_LIBRARY or your data dir)")
    ap.add_argument("--model", metavar="SPEC", help="open_clip model: NAME:TAG, hf-hub:ORG/REPO or local-dir:PATH")
    ap.add_argument("--precision", choices=["int8", "fp32"], help="encoder precision (default int8, remembered)")
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="also show library and third-party messages (normally only in the library's glimpse.log)")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="add folders (if given) and index new or changed files")
    p.add_argument("paths", nargs="*", metavar="PATH", help="folders to add as roots")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    p.add_argument("--wait", action="store_true", help="if another Glimpse is updating the library, wait for it")
    p.add_argument("--allow-deletions", action="store_true",
                   help="forget files even when most of a folder vanished at once (normally held back)")
    p.add_argument("--no-text", action="store_true",
                   help="skip reading text in pictures this time (it runs after indexing; resumes next time)")

    p = sub.add_parser("watch", help="keep the library current: index changes as they happen (Ctrl-C stops)")
    p.add_argument("--poll", type=float, default=WATCH_POLL_S, metavar="SECONDS",
                   help="also rescan every SECONDS (default 300; network drives need it)")
    p.add_argument("--no-events", action="store_true", help="poll only, no filesystem notifications")
    p.add_argument("--settle", type=float, default=WATCH_SETTLE_S, metavar="SECONDS",
                   help="wait until a file has been unchanged this long before indexing it (default 2)")

    p = sub.add_parser("model", help="list, download or import models (for offline use)")
    msub = p.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    m = msub.add_parser("list", help="recommended models (and with --all every open_clip model)")
    m.add_argument("--all", action="store_true")
    m = msub.add_parser("download", help="download a model into the cache, with a progress bar")
    m.add_argument("name", nargs="?", default=None, help="NAME:TAG (default MobileCLIP2-S0:dfndr2b)")
    m = msub.add_parser("import", help="import a downloaded model folder or checkpoint file")
    m.add_argument("path")
    m.add_argument("--arch", help="for a checkpoint file: its open_clip architecture, e.g. MobileCLIP2-S0")
    m.add_argument("--name", help="name for the imported model")
    m.add_argument("--use", action="store_true", help="also make it this library's model")
    m = msub.add_parser("use", help="switch this library to another model; search keeps working meanwhile")
    m.add_argument("name", nargs="?", help="NAME:TAG, hf-hub:ORG/REPO or local-dir:PATH")
    m.add_argument("--cancel", action="store_true", help="abandon a switch under way (the library stays as it was)")
    m.add_argument("--start-only", action="store_true",
                   help="only start it; `glimpse index` or `glimpse watch` re-embed in the background")
    m.add_argument("--wait", action="store_true", help="if another Glimpse is updating the library, wait for it")
    msub.add_parser("prune", help="delete the vectors of models the library switched away from")

    p = sub.add_parser("doctor", help="check the library for damage (and --repair it)")
    p.add_argument("--repair", action="store_true", help="fix what can be fixed: rebuild the index, drop orphans")

    p = sub.add_parser("search", help="search by text, image, or both")
    p.add_argument("text", nargs="?", help="what to look for")
    p.add_argument("--image", action="append", default=[], metavar="FILE[:W]", help="an example image (repeatable)")
    p.add_argument("--also", action="append", default=[], metavar="TEXT[:W]", help="another thing to look for")
    p.add_argument("--minus", action="append", default=[], metavar="TEXT[:W]", help="steer away from this text")
    p.add_argument("--minus-image", action="append", default=[], metavar="FILE[:W]", help="steer away from this image")
    p.add_argument("--limit", "-n", type=int, default=20, help="number of results (default 20)")
    p.add_argument("--strength", type=float, default=0.5,
                   help="composed queries: how much the text changes the image, 0..1 (default 0.5)")
    p.add_argument("--method", choices=["fusion", "pdv"], default=None,
                   help="composed queries: weighted fusion (default) or prompt directional vector")
    p.add_argument("--reference-caption", metavar="TEXT", help="pdv: what the example image shows")
    p.add_argument("--min-score", type=float, default=None,
                   help="hide results below this calibrated relevance, 0..1 (default: only words that match "
                        "nothing return nothing; 0 shows everything)")
    p.add_argument("--no-hubness", action="store_true", help="turn off hubness correction")
    p.add_argument("--text-only", action="store_true",
                   help="search only the words read in pictures (no picture search)")
    p.add_argument("--sort", choices=["relevance", "newest", "oldest"], default="relevance",
                   help="order of the same results: by relevance (default) or by date, grouped by month")
    p.add_argument("--why", action="store_true",
                   help="say under each result why it matched: the region of the photo, the video frame, the "
                        "words read, the example image's share")
    p.add_argument("--paths", action="store_true", help="print only the files' paths, one per line (for other tools)")
    p.add_argument("-0", "--null", dest="null", action="store_true",
                   help="with --paths: end each path with a NUL byte instead of a newline (xargs -0)")
    p.add_argument("--save", metavar="NAME", help="also keep this search as NAME (`glimpse saved` runs it again)")
    add_filter_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("text", help="the text read in a picture (or a video's moments)")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("saved", help="saved searches with their new matches; run one again by its name")
    p.add_argument("name", nargs="?", help="the saved search to run (its new matches are marked)")
    p.add_argument("--delete", action="store_true", help="forget the saved search NAME")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("settings", help="show this library's settings, or change one")
    p.add_argument("key", nargs="?", help="a setting, e.g. read_text")
    p.add_argument("value", nargs="?", help="its new value (on/off for yes-or-no settings)")

    p = sub.add_parser("duplicates", help="groups of near-duplicate photos")
    p.add_argument("--threshold", type=float, default=0.95, help="cosine similarity, 0..1 (default 0.95)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("similar", help="photos and moments like an indexed file")
    p.add_argument("path")
    p.add_argument("--limit", "-n", type=int, default=20)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("roots", help="list, add or remove the folders Glimpse indexes")
    p.add_argument("action", choices=["list", "add", "remove"])
    p.add_argument("path", nargs="?")

    p = sub.add_parser("status", help="what the library holds")
    p.add_argument("--errors", action="store_true", help="list files that could not be indexed, with reasons")
    p.add_argument("--retry", action="store_true", help="try failed files again on the next index")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("resident")  # started by a search, not by people: see indexer/cli/resident.py
    p.add_argument("--linger", type=float, default=resident.LINGER)
    return ap


def add_filter_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("filters")
    g.add_argument("--kind", choices=["all", "photo", "video"], default="all", help="only photos or only videos")
    g.add_argument("--after", metavar="DATE", help="taken on or after DATE (YYYY-MM-DD)")
    g.add_argument("--before", metavar="DATE", help="taken before DATE (YYYY-MM-DD)")
    g.add_argument("--folder", metavar="DIR", help="only under this folder")
    g.add_argument("--camera", metavar="TEXT", help="camera make/model contains TEXT")
    g.add_argument("--gps", dest="gps", action="store_const", const=True, help="only photos with a location")
    g.add_argument("--no-gps", dest="gps", action="store_const", const=False, help="only photos without one")
    g.add_argument("--min-size", type=int, metavar="PX", help="at least PX pixels on the short side")
    g.add_argument("--ext", action="append", default=[], metavar="EXT", help="file extension, e.g. jpg (repeatable)")
    g.add_argument("--with-text", dest="has_text", action="store_const", const=True,
                   help="only pictures where text was read")
    g.add_argument("--without-text", dest="has_text", action="store_const", const=False,
                   help="only pictures without text")


def main(argv: list[str] | None = None) -> int:
    from_shell = argv is None
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if from_shell and (args.command, getattr(args, "model_command", None)) in SUPERVISED:
        if not value(Env.SUPERVISED):
            return _supervised(argv)
        _die_with_parent()
    from indexer.base.config import library_location

    location = library_location(args.library)
    folder = location.folder
    linger = resident.linger() if args.command in resident.COMMANDS and not (args.model or args.precision
                                                                             or args.verbose) else 0.0
    try:
        rc = resident.ask(folder, argv) if linger else None
        if rc is not None:
            return rc
        from indexer.base import logs

        with logs.session(folder, args.verbose):
            rc = _run(args)
    except BrokenPipeError:  # the reader went away (`glimpse search x | head`): stop quietly, as ls does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a command that SIGPIPE ended
    if linger and rc == 0:
        resident.start(location, linger)  # the next search from this shell answers at once
    return rc


# Commands that decode files (a model switch's re-embedding too): a decoder's crash must not end them.
SUPERVISED = frozenset({("index", None), ("watch", None), ("model", "use")})
RESTARTS = 5  # a run ended by a crash is started again at most this many times (each sets one file aside)


def _supervised(argv: list[str]) -> int:
    """Run the command in a child process, and again if a decoder's native crash (a signal, not a Python
    error) ended it: the next run sets the file it was decoding aside (indexing/inflight.py) and goes on."""
    import signal
    import subprocess

    command = [*own_command(), *argv]
    env = {**os.environ, Env.SUPERVISED: "1"}
    for _ in range(RESTARTS + 1):
        child = subprocess.Popen(command, env=env)
        signal.signal(signal.SIGTERM, lambda *_, child=child: child.terminate())  # asked to stop: the run stops
        try:
            rc = child.wait()
        except KeyboardInterrupt:  # the child has its own Ctrl-C (one process group): it stops and says so
            rc = child.wait()
        if rc >= 0 or -rc in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            return rc
        print(f"glimpse: a file crashed a decoder (signal {-rc}); it is set aside and the run goes on",
              file=sys.stderr, flush=True)
    return 2


def _die_with_parent() -> None:
    """A supervised run ends with its supervisor, however that ends (kill -9 included): it never goes
    on writing to the library unseen (Linux; elsewhere it runs to its end)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the supervisor was gone before this was set
        os._exit(1)


def _run(args: argparse.Namespace) -> int:
    from indexer.library.library import Library

    def command() -> int:
        with Library.open(args.library, model=args.model, precision=args.precision) as lib:
            if getattr(args, "wait", False):
                lib.writing.on_wait = lambda message: print(f"glimpse: {message}", file=sys.stderr, flush=True)
            if args.command == "resident":
                return _serve(lib, args.linger)
            return COMMANDS[args.command](lib, args)

    return _guarded(command)


def _guarded(command: Callable[[], int]) -> int:
    """Run a command; library errors become one line on stderr and exit status 2."""
    from indexer.base.errors import LibraryError
    from indexer.model.openclip import ModelUnavailable
    from indexer.store.database import StoreError

    try:
        return command()
    except BrokenPipeError:
        raise  # not the library's failure: main() ends quietly
    except (LibraryError, ModelUnavailable, StoreError, ValueError, OSError) as e:
        print(f"glimpse: {display(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nglimpse: interrupted; what was indexed so far is kept", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: say so plainly, with the details needed to report it
        import traceback

        traceback.print_exc()
        print(f"glimpse: unexpected error: {e}", file=sys.stderr)
        return 1


def _serve(lib, linger: float) -> int:
    """The resident: the text tower and the index loaded once, then searches answered as they come."""
    import contextlib
    import io

    settings = lib.folder / "settings.json"

    def state() -> tuple:
        st = settings.stat() if settings.exists() else None
        return (st and (st.st_mtime_ns, st.st_size)), lib.store.get_meta("model"), lib.store.get_meta("settings")

    def answer(argv: list[str], encoding: str, errors: str) -> tuple[int, bytes, str]:
        out, err = io.BytesIO(), io.StringIO()
        text = io.TextIOWrapper(out, encoding=encoding, errors=errors, write_through=True)
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(err):
            try:
                args = build_parser().parse_args(argv)
                if args.command in resident.COMMANDS:
                    rc = _guarded(lambda: COMMANDS[args.command](lib, args))
                else:  # it searches, nothing else: not a way to run other commands (model import, watch...)
                    print(f"glimpse: the resident search process answers searches only, not {args.command!r}",
                          file=sys.stderr)
                    rc = 2
            except SystemExit as e:  # the client parsed these already; kept for safety
                rc = int(e.code or 0)
            text.flush()
        return rc, out.getvalue(), err.getvalue()

    lib.searching.prepare()  # the text tower and the index, loaded before the first question
    collector.settle()  # start-up's objects out of later collections: no full-collection pause in a search
    start = state()
    resident.serve(lib.folder, linger, answer, lambda: state() == start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
