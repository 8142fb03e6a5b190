"""The bodies of ``glimpse``'s commands: call the library, print what it says (``cli.py`` parses)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer.base.config import format_seconds
from indexer.base.paths import display, printable, to_b64
from indexer.base.progress import Phase
from indexer.cli.progress import ProgressLine

if TYPE_CHECKING:
    from indexer.library.library import Library

PARTIAL = 3  # exit status: the run finished, but some files could not be indexed (2: the library failed)


def filters_from(args: argparse.Namespace) -> Any:
    import datetime as dt

    from indexer.base.filters import Filters

    def day(s: str | None) -> float | None:
        return dt.datetime.strptime(s, "%Y-%m-%d").timestamp() if s else None

    return Filters(args.kind, day(args.after), day(args.before), args.folder, args.camera, args.gps, args.min_size,
                   tuple(args.ext), args.has_text)


def cmd_index(lib: Library, args: argparse.Namespace) -> int:
    from indexer.base.config import model_cache_dir
    from indexer.library.schedule import Schedule  # here: a search from the shell does not need it

    after = [a for a in lib.passes() if not (a.phase is Phase.TEXT and args.no_text)]
    plan = Schedule(after, model_cache_dir(), None if args.quiet else ProgressLine())  # one ETA for all of it
    report = lib.index(args.paths, on_progress=plan, wait=args.wait, allow_mass_delete=args.allow_deletions)
    print_report(report)
    for a in [] if report.cancelled else after:
        rep = a.run(plan, wait=args.wait)
        if rep is not None and rep.summary():
            print(rep.summary())
    return PARTIAL if report.errors else 0


def print_report(report: Any) -> None:
    print(f"indexed: {report.added} new, {report.updated} changed, {report.moved} moved, "
          f"{report.removed} removed, {report.unchanged} unchanged, {report.errors} errors "
          f"({report.seconds:.1f}s)")
    for root in report.offline_roots:
        print(f"offline: {printable(root)} is missing; its files are kept until it returns", file=sys.stderr)
    for root in report.held_back:
        print(f"held back: most of {printable(root)} vanished at once; nothing was deleted. "
              f"If that is intended, run `glimpse roots remove` and add it again.", file=sys.stderr)
    if report.errors:
        print(f"{report.errors} files could not be indexed (the others were); "
              "see `glimpse status --errors` for the reasons", file=sys.stderr)


def cmd_watch(lib: Library, args: argparse.Namespace) -> int:
    import threading

    line = ProgressLine()
    from indexer.upkeep.watch import Watcher

    w = Watcher(lib, poll_interval=args.poll, use_events=not args.no_events, settle=args.settle, on_progress=line,
                    on_report=lambda r: (print_report(r), print("watching for changes… (Ctrl-C stops)",
                                                                file=sys.stderr)),
                    on_error=lambda e: print(f"glimpse: {e}", file=sys.stderr))
    print(f"watching {len(lib.roots())} folders (Ctrl-C stops)", file=sys.stderr)
    w.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the clean stop
        print("\nstopping… (what was indexed is kept)", file=sys.stderr)
    finally:
        w.stop()
    print("stopped", file=sys.stderr)
    return 0


def cmd_model(lib: Library, args: argparse.Namespace) -> int:
    from indexer.base.config import DEFAULT_MODEL, model_cache_dir
    from indexer.model import catalog

    if args.model_command == "list":
        for m in catalog.list_models(args.all):
            mark = "*" if m.cached else " "
            print(f"{mark} {m.spec:40s} {m.size:22s} {m.note}")
        print(f"(* = on this computer; cache: {model_cache_dir()}, move it with GLIMPSE_MODELS)", file=sys.stderr)
    elif args.model_command == "download":
        spec = catalog.download_model(args.name or DEFAULT_MODEL)
        print(f"{spec} is ready")
    elif args.model_command == "import":
        spec = catalog.import_model(Path(args.path), args.arch, args.name)
        print(f"imported as {spec}; `glimpse model use {spec}` switches a library to it")
        if args.use:
            return _switch(lib, spec, start_only=False)
    elif args.model_command == "use":
        if args.cancel:
            print("switch abandoned; the library is as it was" if lib.switch.cancel() else "no switch under way")
            return 0
        if not args.name:
            raise ValueError("give the model to switch to (or --cancel)")
        return _switch(lib, args.name, args.start_only, args.wait)
    else:
        dropped, freed = lib.switch.prune()
        print(f"deleted {dropped} vectors of earlier models; the library is {_size(freed)} smaller" if dropped
              else "nothing to prune: no earlier model's vectors are kept")
    return 0


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _switch(lib: Library, spec: str, start_only: bool, wait: bool = False) -> int:
    """Start a switch (or just use the model on an empty library) and, unless asked not to, run it."""
    st = lib.change_model(spec, wait=wait)
    if st.target is None:
        print(f"this library now uses {st.active_spec}")
        return 0
    print(f"switching to {spec}: {st.covered}/{st.total} files embedded so far; search keeps using "
          f"{st.active_spec} until the new model covers the library", file=sys.stderr)
    if start_only:
        return 0
    rep = lib.switch.reembed(on_progress=ProgressLine(), wait=wait)
    if rep is not None and rep.remaining:
        print(f"{rep.remaining} files still to re-embed; `glimpse index` (or the app) continues", file=sys.stderr)
        return PARTIAL
    print(f"done: this library now uses {spec}; `glimpse model prune` frees the old model's space")
    return 0


def cmd_doctor(lib: Library, args: argparse.Namespace) -> int:
    from indexer.upkeep import doctor

    findings = doctor.check(lib)
    for f in findings:
        print(f"{f.check}: {f.problem}{'' if f.repairable else ' (cannot be repaired automatically)'}")
    if not findings:
        print("library is healthy")
    if args.repair and findings:
        for what in doctor.repair(lib):
            print(f"repaired: {what}")
        left = doctor.check(lib)
        for f in left:
            print(f"still wrong: {f.check}: {f.problem}")
        return 1 if left else 0
    return 1 if findings else 0


def cmd_search(lib: Library, args: argparse.Namespace) -> int:
    from indexer.search.query import DEFAULT_METHOD, Query

    q = Query(args.text, images=tuple(args.image), minus=tuple(args.minus), limit=args.limit, strength=args.strength,
              min_score=args.min_score, also=tuple(args.also), minus_images=tuple(args.minus_image),
              filters=filters_from(args), method=args.method or DEFAULT_METHOD,
              reference_caption=args.reference_caption, hubness=not args.no_hubness, text_only=args.text_only,
              sort=args.sort)
    hits = lib.search(q)
    if args.save:
        lib.searches.save(args.save, q)
        print(f"saved as {args.save!r}; `glimpse saved {args.save}` runs it again", file=sys.stderr)
    if args.paths or args.null:
        print_paths(hits, args.null)
    else:
        print_hits(hits, args.json, by_month=args.sort != "relevance", why=args.why)
    return 0


def print_paths(hits: list[Any], null: bool) -> None:
    """Each file once, its exact bytes (a name that is not UTF-8 stays usable by the next tool)."""
    import os

    seen: set[str] = set()
    out = sys.stdout.buffer
    for h in hits:
        if h.path not in seen:
            seen.add(h.path)
            out.write(os.fsencode(h.path) + (b"\0" if null else b"\n"))
    out.flush()


def cmd_duplicates(lib: Library, args: argparse.Namespace) -> int:
    groups = lib.searching.duplicates(args.threshold)
    if args.json:
        print(json.dumps({"groups": [[_json_path(p) for p in g] for g in groups]}, indent=2))
        return 0
    for g in groups:
        print("\n".join(printable(p) for p in g) + "\n")
    print(f"{len(groups)} groups of near-duplicates", file=sys.stderr)
    return 0


def cmd_similar(lib: Library, args: argparse.Namespace) -> int:
    print_hits(lib.similar(str(Path(args.path).expanduser().resolve()), args.limit), args.json)
    return 0


def print_hits(hits: list[Any], as_json: bool, by_month: bool = False, why: bool = False) -> None:
    from indexer.search.explain import why_matched  # here: the explanation needs numpy, `glimpse --help` does not

    nothing = bool(getattr(hits, "no_good_matches", False))
    more = bool(getattr(hits, "more_below", False))
    if as_json:
        print(json.dumps({"results": [{**h.to_json(), **_json_path(h.path), "why": why_matched(h)} for h in hits],
                          "no_good_matches": nothing, "more_below": more}, indent=2))
        return
    if nothing:
        print("no good matches: nothing stands out for these words more than for made-up words "
              "(--min-score 0 shows the closest anyway)", file=sys.stderr)

    from indexer.search.ordering import by_month as months

    for label, group in months(hits) if by_month else [("", hits)]:
        if label:
            print(f"# {label}")
        for h in group:
            at = f"  @ {format_seconds(h.timestamp)} ({format_seconds(h.start)}-{format_seconds(h.end)})" \
                if h.kind == "video" else ""
            said = f'  "{printable(h.text)}"' if h.text else ""
            print(f"{h.score:6.3f}  {printable(h.path)}{at}{said}")
            if why:
                print(f"        {why_matched(h)}")


def cmd_text(lib: Library, args: argparse.Namespace) -> int:
    path = str(Path(args.path).expanduser().resolve())
    lines = lib.text_of(path)
    if args.json:
        print(json.dumps({**_json_path(path), "read": lines is not None,
                          "lines": [{"text": t.text, "confidence": t.confidence, "box": t.box, "time": t.ts}
                                    for t in lines or []]}, indent=2, ensure_ascii=False))
        return 0
    if lines is None:
        why = "reading text is off for this library" if not lib.settings.read_text else "run `glimpse index`"
        print(f"the text in {printable(path)} has not been read yet ({why})", file=sys.stderr)
        return 0
    if not lines:
        print(f"no text found in {printable(path)}", file=sys.stderr)
    for t in lines:
        at = f"@ {format_seconds(t.ts)}  " if t.ts is not None else ""
        print(f"{at}{printable(t.text)}    ({t.confidence:.2f})")
    return 0


def cmd_saved(lib: Library, args: argparse.Namespace) -> int:
    if args.name is None:
        rows = lib.searches.counts()
        if args.json:
            print(json.dumps([{"name": s.name, "query": s.query.describe(), "new": n} for s, n in rows], indent=2))
        for s, n in [] if args.json else rows:
            print(f"{s.name}: {s.query.describe()}" + (f"  ({n} new)" if n else ""))
        if not rows and not args.json:
            print("no saved searches; `glimpse search WORDS --save NAME` keeps one", file=sys.stderr)
        return 0
    if args.delete:
        if not lib.searches.delete(args.name):
            raise ValueError(f"no saved search called {args.name!r}")
        print(f"forgot {args.name!r}")
        return 0
    try:
        hits, new = lib.searches.open(args.name)
    except KeyError:
        raise ValueError(f"no saved search called {args.name!r}; `glimpse saved` lists them") from None
    fresh = {(h.file_id, h.start) for h in new}
    if args.json:
        print(json.dumps({"results": [{**h.to_json(), **_json_path(h.path), "new": (h.file_id, h.start) in fresh}
                                      for h in hits]}, indent=2))
        return 0
    for h in hits:
        print(f"{'new ' if (h.file_id, h.start) in fresh else '    '}{h.score:6.3f}  {printable(h.path)}")
    print(f"{len(new)} new since you last opened {args.name!r}", file=sys.stderr)
    return 0


def cmd_settings(lib: Library, args: argparse.Namespace) -> int:
    import dataclasses

    current = dataclasses.asdict(lib.settings)
    if args.key is None:
        for k, v in current.items():
            print(f"{k} = {json.dumps(v)}")
        return 0
    if args.key not in current or args.key in ("model", "settings_version"):
        hint = " (use `glimpse model`)" if args.key == "model" else ""
        raise ValueError(f"no setting called {args.key!r}{hint}; `glimpse settings` lists them")
    if args.value is None:
        print(json.dumps(current[args.key]))
        return 0
    lib.update_settings(**{args.key: _setting_value(current[args.key], args.value)})
    print(f"{args.key} = {json.dumps(getattr(lib.settings, args.key))}")
    return 0


def _setting_value(old: object, text: str) -> object:
    """``text`` as the type the setting has: on/off for yes-or-no, numbers, lists comma-separated."""
    if isinstance(old, bool):
        if text.lower() not in ("on", "off", "true", "false", "yes", "no", "1", "0"):
            raise ValueError(f"say on or off, not {text!r}")
        return text.lower() in ("on", "true", "yes", "1")
    if isinstance(old, (tuple, list)):
        return tuple(t.strip() for t in text.split(",") if t.strip())
    if text.lower() in ("none", "default", ""):
        return None
    if isinstance(old, int):
        return int(text)
    if isinstance(old, float) or old is None:
        return float(text)
    return text


def _json_path(path: str) -> dict[str, str]:
    """``path`` readable (U+FFFD where a byte is not UTF-8), ``path_b64`` its exact bytes."""
    return {"path": display(path), "path_b64": to_b64(path)}


def cmd_roots(lib: Library, args: argparse.Namespace) -> int:
    if args.action != "list" and not args.path:
        print(f"glimpse roots {args.action}: give a folder", file=sys.stderr)
        return 2
    if args.action == "add":
        print(f"added {printable(lib.add_root(args.path).path)}; run `glimpse index` to index it")
    elif args.action == "remove":
        print(f"removed; {lib.remove_root(args.path)} vectors forgotten (your files are untouched)")
    for s in lib.status().roots:
        state = "" if s.online else "  [offline]"
        print(f"{printable(s.path)}  {s.photos} photos, {s.videos} videos, {s.errors} errors{state}")
    return 0


def cmd_status(lib: Library, args: argparse.Namespace) -> int:
    if args.retry:
        print(f"{lib.retry_errors()} files will be retried on the next `glimpse index`")
        return 0
    st = lib.status()
    if args.errors:
        errs = lib.errors()
        if args.json:
            print(json.dumps({"errors": [{**_json_path(e.path), "reason": e.error} for e in errs]}, indent=2))
        for e in [] if args.json else errs:
            print(f"{printable(e.path)}: {e.error}")
        return 0
    if args.json:
        import dataclasses

        out = dataclasses.asdict(st)
        out["roots"] = [{**r, **_json_path(r["path"])} for r in out["roots"]]
        print(json.dumps(out, indent=2))
        return 0
    ms = st.models
    print(f"library: {st.library}\nmodel:   {ms.active_spec if ms and ms.active else '(none yet)'}\n"
          f"photos:  {st.photos}\nvideos:  {st.videos}\nvectors: {st.vectors}\nerrors:  {st.errors}")
    if ms and ms.target:
        pct = 100 * ms.covered / max(ms.total, 1)
        print(f"switching to {ms.target_spec}: {ms.covered}/{ms.total} files ({pct:.0f} %) re-embedded")
    if ms and len(ms.space) > 1:
        print("space:   " + ", ".join(f"{m}: {_size(b)}" for m, b in ms.space)
              + ("  (`glimpse model prune` frees the old ones)" if ms.kept else ""))
    if lib.settings.read_text:
        left = f", {st.text_pending} not read yet" if st.text_pending else ""
        print(f"text:    read in {st.text_read} pictures, words in {st.text_found}{left}")
    else:
        print("text:    not read (settings read_text off)")
    if lib.settings.regions or st.region_vectors:
        print(f"regions: {st.region_vectors} region vectors in {st.region_photos} large photos")
    else:
        print("regions: off (`glimpse settings regions on` finds small things in large photos; slower indexing)")
    for r in st.roots:
        print(f"  {printable(r.path)}: {r.photos} photos, {r.videos} videos, {r.errors} errors{'' if r.online else ' [offline]'}")
    return 0


COMMANDS = {"index": cmd_index, "watch": cmd_watch, "doctor": cmd_doctor, "model": cmd_model, "search": cmd_search,
            "similar": cmd_similar, "roots": cmd_roots, "status": cmd_status, "duplicates": cmd_duplicates,
            "text": cmd_text, "settings": cmd_settings, "saved": cmd_saved}
