"""What the five console scripts share: --version, -v/--verbose, exit codes, one-line errors, quiet logs.

A person's mistake (a wrong option, a missing file, a bundle that is not one) ends in one line,
``PROG: error: what was wrong``, and exit status 2; a traceback is kept for the program's own bugs.
The exit statuses are the same for every command (README, "Exit status"):

    0  done
    1  ran, but something it worked on failed (a photo not screened, a target failing its parity check)
    2  a user's mistake: bad option or input; nothing was done
    3  cannot run here: a backend, artifact or library this machine does not have
    130  interrupted (Ctrl-C)

Native libraries (TensorFlow's C++ core, LiteRT's XNNPACK delegate) print banners on stderr that no
environment variable fully silences; without ``-v`` a command filters those lines out of file
descriptor 2 and lets every other line through. This module imports nothing heavy.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import math
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from .errors import BackendUnavailableError, FaceScreenError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

T = TypeVar("T")
N = TypeVar("N", int, float)


def version_text(prog: str) -> str:
    from facescreen import __version__

    from .bundle import SCHEMA_VERSION

    return f"{prog} {__version__} (model card schema {SCHEMA_VERSION})"


class _VersionAction(argparse.Action):
    """``--version``, computed only when asked (the model card module imports OpenCV)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text(parser.prog.split()[0]))
        parser.exit(EXIT_OK)


class CliParser(argparse.ArgumentParser):
    """An argparse parser whose mistakes are one line and exit status 2 (not the usage block)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


VERBOSE_FLAGS = ("-v", "--verbose")


def _add_verbose(p: argparse.ArgumentParser, default) -> None:
    p.add_argument(
        *VERBOSE_FLAGS,
        action="store_true",
        default=default,
        help="more logging, including the native libraries' own (TensorFlow, LiteRT)",
    )


def new_parser(prog: str, description: str | None) -> CliParser:
    """The top-level parser of a command, with --version and -v/--verbose."""
    p = CliParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action=_VersionAction, help="print the package and model-card schema versions")
    _add_verbose(p, False)
    return p


def new_command_parser(prog: str, description: str | None) -> tuple[CliParser, argparse._SubParsersAction]:
    """The top-level parser of a command made of sub-commands (``PROG COMMAND ...``), and those
    sub-commands (:func:`add_subcommands`) for :func:`add_subcommand` to fill."""
    parser = new_parser(prog, description)
    return parser, add_subcommands(parser)


def add_subcommands(parser: CliParser, dest: str = "command", metavar: str = "COMMAND") -> argparse._SubParsersAction:
    """Sub-commands that a name must choose; an unknown name lists the valid ones."""
    return parser.add_subparsers(dest=dest, metavar=metavar, required=True, parser_class=CliParser)


def add_subcommand(sub: argparse._SubParsersAction, name: str, **kwargs) -> CliParser:
    """A sub-command that accepts -v/--verbose after its name too (``PROG COMMAND -v``)."""
    p = sub.add_parser(
        name, formatter_class=kwargs.pop("formatter_class", argparse.RawDescriptionHelpFormatter), **kwargs
    )
    _add_verbose(p, argparse.SUPPRESS)  # SUPPRESS: an absent -v here keeps the top-level one
    return p


# --- argument types: a wrong value is a one-line parser error, before anything is loaded -------------


def number(text: str, convert: Callable[[str], N], wrong: str) -> N:
    """``convert(text)`` (int, float), a text that is no such number turned into the parser error ``wrong``."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(wrong) from None


def positive_int(text: str, least: int = 1) -> int:
    value = number(text, int, f"expected a whole number >= {least}, got {text!r}")
    if value < least:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {least}, got {value}")
    return value


def thread_count(text: str) -> int:
    """``--threads``: a whole number from 1 to the cores this process may use (the rule every runtime
    applies, :func:`edge.backends.base.inference_threads`), checked when parsing."""
    from .backends.base import inference_threads  # numpy's import: only when the option is given

    try:
        return inference_threads(positive_int(text))
    except FaceScreenError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def count(text: str) -> int:
    """A whole number >= 0 (0: none, e.g. no warm-up runs)."""
    return positive_int(text, least=0)


def positive_number(text: str) -> float:
    """A finite number > 0 (``nan`` and ``inf`` are none: converted to a whole number of bytes or
    pixels, they were "cannot convert float NaN to integer" and an OverflowError's traceback)."""
    value = number(text, float, f"expected a number > 0, got {text!r}")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def seconds(text: str, allow_zero: bool = False) -> float:
    """A finite number of seconds > 0 (``allow_zero``: >= 0); ``nan`` and ``inf`` are no time."""
    bound = ">= 0" if allow_zero else "> 0"
    value = number(text, float, f"expected a number of seconds {bound}, got {text!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise argparse.ArgumentTypeError(f"expected a number of seconds {bound}, got {text!r}")
    return value


def seconds_or_zero(text: str) -> float:
    return seconds(text, allow_zero=True)


def _not_a_folder(text: str, wanted: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; give {wanted}")
    return path


def writable_file(text: str) -> Path:
    """A file path this process can create or replace (its folder exists; it is not a folder)."""
    path = _not_a_folder(text, "a file name")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"cannot write {path}: {folder} {what}")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {path}: permission denied")
    return path


def output_folder(text: str) -> Path:
    """A folder to write into, made when missing: not a file, and made under a folder this process
    can write (checked when parsing, before the work whose results it would lose)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file; give a folder")
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise argparse.ArgumentTypeError(f"cannot make the folder {path}: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {path}: permission denied ({probe})")
    return path


def existing_file(text: str) -> Path:
    path = _not_a_folder(text, "a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no file at {path}")
    return path


def checked(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argument type from a function that raises ValueError or a FaceScreenError saying what is
    wrong (a function the library uses too): argparse would print "invalid check value: 'x'" for a
    ValueError instead of the sentence, and a traceback for the other."""

    def convert(text: str) -> T:
        try:
            return check(text)
        except (ValueError, FaceScreenError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = check.__name__
    return convert


def choice_of(names: Callable[[], Sequence[str]], kind: str) -> Callable[[str], str]:
    """An argument type that accepts one of a registry's names (looked up when parsing)."""

    def check(text: str) -> str:
        valid = list(names())
        if text not in valid:
            raise argparse.ArgumentTypeError(f"unknown {kind} {text!r}; expected one of: {', '.join(valid)}")
        return text

    check.__name__ = kind  # argparse names the type in its messages
    return check


# --- running a command --------------------------------------------------------------------------------


def exit_code_for(exc: BaseException) -> int:
    return EXIT_UNAVAILABLE if isinstance(exc, BackendUnavailableError) else EXIT_USAGE


def run(
    prog: str,
    parser: argparse.ArgumentParser | Callable[[], argparse.ArgumentParser],
    command: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None = None,
    user_errors: tuple[type[BaseException], ...] | Callable[[], tuple[type[BaseException], ...]] = (),
    quiet_level: int = logging.WARNING,
    log_format: str = "%(message)s",
    own_process: bool | None = None,
) -> int:
    """Parse, set up logging (quiet unless -v), run ``command(args)`` and turn a user's mistake
    (:class:`FaceScreenError` or one of ``user_errors``; a function returning them when their modules
    are heavy to import) into one line and its exit status.

    ``own_process`` (default: ``argv is None``, i.e. called as the program): only then are file
    descriptors rearranged to filter native banners; a caller inside a bigger program keeps its own.

    ``parser`` may be a function that builds it, for a parser whose building imports a native library
    (the training command's flags are read off its configuration, which imports Keras): the logs are
    quieted first, -v read off the words given, so the library's start-up banners are filtered too."""
    filter_fd = argv is None if own_process is None else own_process
    if callable(parser):
        words = sys.argv[1:] if argv is None else argv
        quiet_native_logs(any(w in VERBOSE_FLAGS for w in words), filter_fd=filter_fd)
        parser = parser()
    args = parser.parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    quiet_native_logs(verbose, filter_fd=filter_fd)
    louder = logging.DEBUG if quiet_level <= logging.INFO else logging.INFO
    logging.basicConfig(level=louder if verbose else quiet_level, format=log_format)
    try:
        return command(args)
    except Exception as exc:
        mistakes = user_errors() if callable(user_errors) else user_errors
        if not isinstance(exc, (FaceScreenError, *mistakes)):
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# --- quiet native logs --------------------------------------------------------------------------------

# Lines that native libraries print on their own at start-up; kept with -v.
NATIVE_NOISE = re.compile(
    r"^(INFO: (Created TensorFlow Lite \w+ delegate|Initialized TensorFlow Lite runtime)"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} \d\d:\d\d:\d+(\.\d+)? +\d+ \S+:\d+\] "  # absl-format INFO/WARNING lines
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] \S+:\d+\] "  # TensorFlow's older format
    r"|To enable the following instructions: .* rebuild TensorFlow)"
)

_filter_installed = False


def quiet_native_logs(verbose: bool, filter_fd: bool = True) -> None:
    """Without ``verbose``: ask TensorFlow for warnings and errors only, and (``filter_fd``) drop the
    banner lines native code writes to file descriptor 2 anyway. Python's own stderr keeps a direct
    line to the terminal, so messages and tracebacks never wait on the filter."""
    global _filter_installed
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not filter_fd or _filter_installed:
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:  # no stderr to speak of (a service without one): nothing to filter
        return
    sys.stderr = open(
        os.dup(real),
        "w",
        buffering=1,
        encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
        errors="backslashreplace",
    )
    thread = threading.Thread(target=_forward, args=(read_end, real), name="native-stderr-filter", daemon=True)
    thread.start()
    _filter_installed = True

    def _restore() -> None:
        os.dup2(real, 2)  # closes the pipe's last write end: the thread sees the end and stops
        thread.join(timeout=2.0)

    atexit.register(_restore)


def _forward(read_end: int, real: int) -> None:
    pending = b""
    with open(read_end, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            _write_kept(real, lines)
    if pending:
        _write_kept(real, [pending])


def _write_kept(fd: int, lines: list[bytes]) -> None:
    kept = [ln for ln in lines if not NATIVE_NOISE.match(ln.decode("utf-8", "replace"))]
    if kept:
        os.write(fd, b"\n".join(kept) + b"\n")


# --- progress -----------------------------------------------------------------------------------------


BAR_WIDTH = 24


def progress_line(label: str, done: int, total: int, seconds: float) -> str:
    """``label [#########---------]  12/40  3.1/s  ETA 0:09``: the bar, the count, the rate so far
    and the time left at that rate (no rate before the first item)."""
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    line = f"{label} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total}"
    if done and seconds > 0:
        rate = done / seconds
        left = round((total - done) / rate)
        line += f"  {rate:.1f}/s  ETA {left // 60}:{left % 60:02d}"
    return line


def progress(items: Iterable[T], total: int, label: str, stream=None, clock=None) -> Iterator[T]:
    """A progress bar (:func:`progress_line`) redrawn on one stderr line as each item is done, when
    stderr is a terminal (nothing otherwise, so logs and pipes stay clean); light enough for the
    edge runtime. ``clock``: seconds since some start (tests pass a fake one)."""
    import time

    stream = stream or sys.stderr
    clock = clock or time.perf_counter
    live = hasattr(stream, "isatty") and stream.isatty()
    start = clock()
    for i, item in enumerate(items, 1):
        yield item
        if live:
            stream.write(f"\r{progress_line(label, i, total, clock() - start)}\x1b[K")
            stream.flush()
    if live and total:
        stream.write("\n")
