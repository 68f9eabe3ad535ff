"""Reading input files and writing output, with every failure a UserError naming the file.

Readers (`read_text`, `read_yaml`, `read_json`, `read_csv`) turn OS errors (missing, a folder,
no permission, a name too long), decoding errors (not UTF-8) and structure errors (bad syntax,
a duplicated YAML / JSON key or CSV column, a row longer than its header) into one line that
names the file, the line or field, and what was expected. They read regular files only, at most
MAX_INPUT_BYTES, so `/dev/zero` or a FIFO is refused instead of read forever.

Writers never leave half a file: `atomic_write_text` / `atomic_write_bytes` write a temporary
file beside the target and rename it into place. `output_folder` assembles a whole output
folder (a report, a sweep) in a temporary folder and moves its entries into place at the end,
holding a lock so that a second writer to the same folder is refused; if the run fails or is
interrupted, the previous output stays as it was.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import yaml

from .errors import UserError

MAX_INPUT_BYTES = 256 * 2**20      # an input file larger than this is refused, not read


# ---- messages ---------------------------------------------------------------------------------

def _os_reason(err: OSError) -> str:
    """What an OSError means for the user, in a few words."""
    code = getattr(err, "errno", None)
    reasons = {
        errno.ENOENT: "does not exist",
        errno.EISDIR: "is a folder, not a file",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "the file system is read-only",
        errno.ENOSPC: "no space left on the device",
        errno.ENAMETOOLONG: "a name in the path is too long (at most 255 bytes each)",
        errno.ELOOP: "too many symbolic links",
        errno.EEXIST: "already exists",
        errno.ENOTEMPTY: "is a folder that is not empty",
        errno.EXDEV: "cannot move between file systems",
    }
    if code == getattr(errno, "EDQUOT", None):
        return "disk quota exceeded"
    return reasons.get(code, getattr(err, "strerror", None) or str(err) or type(err).__name__)


def input_error(path, err: OSError, expected: str = "") -> UserError:
    """A UserError for an input file that could not be read."""
    if err.errno == errno.ENOENT:
        hint = f" (expected {expected})" if expected else ""
        return UserError(f"{path}: cannot read: file not found{hint}")
    return UserError(f"{path}: cannot read: {_os_reason(err)}")


def parent_fault(path) -> str | None:
    """Why the folder meant to hold `path` is not there, naming the path at fault: the first
    missing folder on the way to it, or the file that stands where a folder should be. None
    where that folder exists."""
    parent = Path(path).parent
    if os.path.isdir(parent):
        return None
    ancestor, missing = parent, None
    while not os.path.exists(ancestor) and ancestor != ancestor.parent:
        missing, ancestor = ancestor, ancestor.parent
    if os.path.exists(ancestor) and not os.path.isdir(ancestor):
        return f"{ancestor} is a file, not a folder"
    if missing is None or missing == parent:
        return f"the folder {parent} does not exist"
    return f"the folder {missing} does not exist (nor, in it, {parent})"


def output_error(path, err: OSError, what: str = "output") -> UserError:
    """A UserError for an output path that could not be written. A missing file or folder is
    named as the one at fault: a folder on the way that is missing or a file, or the folder that
    exists but refuses a new file (a virtual file system such as /proc)."""
    reason = _os_reason(err)
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        fault = parent_fault(path)
        if fault is not None:
            reason = fault
        elif err.errno == errno.ENOENT:
            reason = (f"the folder {Path(path).parent} exists but refuses a new file there "
                      f"({err.strerror or 'no such file'}; a virtual file system?)")
    return UserError(f"{path}: cannot write the {what}: {reason}")


# ---- reading ----------------------------------------------------------------------------------

def read_bytes(path, *, expected: str = "", limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file (UserError when missing, a folder, a device, unreadable or
    larger than `limit`)."""
    p = Path(path)
    try:
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            raise UserError(f"{p}: is a folder, not a file" + (f" (expected {expected})"
                                                              if expected else ""))
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{p}: not a regular file (a device or a pipe); expected "
                            f"{expected or 'a file'}")
        if st.st_size > limit:
            raise UserError(f"{p}: {st.st_size:,} bytes, larger than the {limit:,} an input "
                            f"file may have")
        with open(p, "rb") as f:
            data = f.read(st.st_size + 1)   # read(n) allocates n bytes: not the limit
    except OSError as err:
        raise input_error(p, err, expected) from None
    except ValueError as err:           # e.g. an embedded NUL in the path
        raise UserError(f"{p!r}: not a usable file name ({err})") from None
    if len(data) > st.st_size:          # it grew while we read it
        raise UserError(f"{p}: changed while it was read; try again")
    return data


def gunzip(data: bytes, path, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes a gzip file holds: every member in turn, as RFC 1952 reads a file of several
    (`gzip -c more.csv >> file.gz` appends one). UserError when it is not gzip, a member is cut
    short, bytes that are no member follow, or it holds more than `limit` bytes."""
    import zlib
    parts, size, rest = [], 0, data
    while True:
        d = zlib.decompressobj(wbits=31)
        try:
            out = d.decompress(rest, limit + 1 - size)
        except zlib.error as err:
            what = "not gzip data" if not parts else "bytes after its gzip data are not gzip"
            raise UserError(f"{path}: {what} ({err})") from None
        size += len(out)
        parts.append(out)
        if size > limit:
            raise UserError(f"{path}: holds more than the {limit:,} bytes an input file may have")
        if not d.eof:
            raise UserError(f"{path}: the gzip stream is cut short")
        rest = d.unused_data
        if not rest:
            return b"".join(parts)


def stored_file(path) -> Path:
    """The file a data path names: itself, or where it is missing its gzip-compressed copy
    <name>.gz. Large committed data (test-set measurements, the shipped profiles, published
    tables) is stored so, to keep the repository small enough to travel to the GPU machine;
    readers and writers name the plain file and go through here."""
    p = Path(path)
    gz = p.with_name(p.name + ".gz")
    return gz if not p.exists() and gz.is_file() else p


def gzip_bytes(data: bytes) -> bytes:
    """`data` gzip-compressed with no file name or time in the header: the same bytes on any
    machine and at any time, so a rewritten unchanged file is not a change."""
    import gzip
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:   # OS byte: 255
        gz.write(data)
    return buf.getvalue()


def read_text(path, *, expected: str = "", limit: int = MAX_INPUT_BYTES) -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped); a name ending in .gz is read
    through gunzip."""
    data = read_bytes(path, expected=expected, limit=limit)
    if str(path).endswith(".gz"):
        data = gunzip(data, path, limit)
    nul = data.find(b"\0")
    if nul >= 0:
        line = data[:nul].count(b"\n") + 1
        raise UserError(f"{path}: line {line}: a NUL byte: not a text file; expected "
                        f"{expected or 'a UTF-8 text file'}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise UserError(f"{path}: line {line}: not UTF-8 text (byte 0x{data[err.start]:02x} at "
                        f"offset {err.start}); expected {expected or 'a UTF-8 text file'}") \
            from None


def _yaml_line(err) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    return f"line {mark.line + 1}: " if mark is not None else ""


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key, mark):
        super().__init__(f"key {key!r} appears twice in one mapping")
        self.key = key
        self.problem_mark = mark
        self.problem = (f"key {key!r} appears twice in one mapping (the second would replace "
                        f"the first)")


# A decimal number as roofsim reads one in a YAML file and in a --set value: digits, a point, an
# exponent, underscores between digits (6000, 0.9, 6e3, 1.0e12, .5, 1_000). This is YAML 1.2's
# core-schema decimal with Python's digit separators, which YAML 1.1 also accepted (so a file
# writing 1_000 reads as it always did).
DECIMAL_NUMBER = (r"[-+]?(?:[0-9]+(?:_[0-9]+)*(?:\.(?:[0-9]+(?:_[0-9]+)*)?)?|\.[0-9]+(?:_[0-9]+)*)"
                  r"(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?")
_DECIMAL_INT = r"[-+]?[0-9]+(?:_[0-9]+)*"

# Plain scalars resolved as YAML 1.2's core schema does, not as PyYAML's YAML 1.1: true/false
# (any case style the spec lists) are the only booleans, so yes/no/on/off stay text; an integer
# is decimal, 0o17 octal or 0x1f hexadecimal, so 017 is 17 (YAML 1.1: octal 15) and 1:30 is
# text (YAML 1.1: sexagesimal 90); a float may omit the point (6e3; YAML 1.1: text). A file value
# that is no longer a number is then refused by its reader's type check, naming the file.
_CORE_SCALARS = (   # (tag, pattern, first characters), in the order they are tried
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", rf"{_DECIMAL_INT}|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    ("tag:yaml.org,2002:float", rf"{DECIMAL_NUMBER}|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
     "-+.0123456789"),
)
_YAML11_SCALARS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


def _core_resolvers(table: Mapping) -> dict:
    """PyYAML's implicit resolver table with YAML 1.1's bool, int and float replaced by the core
    schema's (null, timestamps and merge keys kept)."""
    out = {first: [(tag, rx) for tag, rx in entries if tag not in _YAML11_SCALARS]
           for first, entries in table.items()}
    for tag, pattern, firsts in _CORE_SCALARS:
        for first in firsts:
            out.setdefault(first, []).append((tag, re.compile(rf"^(?:{pattern})$")))
    return {first: entries for first, entries in out.items() if entries}


def _construct_core_scalar(loader, node):
    """A core-schema bool, int or float, also for an explicit tag (`!!int abc` is a YAML error
    naming the line, not a Python traceback)."""
    text = loader.construct_scalar(node)
    kind = node.tag.rsplit(":", 1)[-1]
    if not isinstance(text, str) or not re.fullmatch(
            next(p for t, p, _ in _CORE_SCALARS if t == node.tag), text):
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a YAML 1.2 {kind}", node.start_mark)
    if kind == "bool":
        return text.lower() == "true"
    if kind == "int":
        try:
            return int(text, 8) if text.startswith("0o") else \
                int(text, 16) if text.startswith("0x") else int(text)
        except ValueError:          # more digits than int() converts
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(text):,} characters is too long",
                node.start_mark) from None
    if text.lstrip("+-").lower() == ".inf":
        return -math.inf if text.startswith("-") else math.inf
    return math.nan if text.lower() == ".nan" else float(text)


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """yaml's safe loader with YAML 1.2 core-schema scalars (_CORE_SCALARS), refusing a key
    given twice in one mapping (YAML itself says a key is unique; PyYAML would silently keep the
    last)."""

    yaml_implicit_resolvers = _core_resolvers(yaml.SafeLoader.yaml_implicit_resolvers)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                try:
                    key = self.construct_object(key_node, deep=True)
                    hash(key)
                except (TypeError, yaml.YAMLError):
                    continue            # the base class reports an unhashable key itself
                if key in seen:
                    raise DuplicateKeyError(key, key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


for _tag, _, _ in _CORE_SCALARS:
    _UniqueKeyLoader.add_constructor(_tag, _construct_core_scalar)


def parse_yaml(text: str, where: str) -> Any:
    """YAML text -> Python values; `where` names the source in the error."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
    except DuplicateKeyError as err:
        raise UserError(f"{where}: {_yaml_line(err)}{err.problem}") from None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0] or "syntax error"
        raise UserError(f"{where}: {_yaml_line(err)}not valid YAML ({problem})") from None
    except RecursionError:
        raise UserError(f"{where}: not valid YAML (nested too deeply)") from None


class _Dumper(yaml.SafeDumper):
    """yaml's safe dumper quoting every text that YAML 1.1 or roofsim's YAML 1.2 reading would
    take for something else (yes, 017 for YAML 1.1; 6e3, 0o17 for YAML 1.2): a file written
    here reads back the same with either."""

    yaml_implicit_resolvers = {
        first: list(yaml.SafeDumper.yaml_implicit_resolvers.get(first, []))
        + list(_UniqueKeyLoader.yaml_implicit_resolvers.get(first, []))
        for first in set(yaml.SafeDumper.yaml_implicit_resolvers)
        | set(_UniqueKeyLoader.yaml_implicit_resolvers)}


def dump_yaml(data: Any, **options) -> str:
    """`data` as YAML text that read_yaml (and a YAML 1.1 reader) reads back as `data`;
    `options` as yaml.dump takes them (sort_keys, width, ...)."""
    return yaml.dump(data, Dumper=_Dumper, **options)


def read_yaml(path, *, expected: str = "a YAML file") -> Any:
    """A YAML file's content (safe loader, duplicate keys refused)."""
    return parse_yaml(read_text(path, expected=expected), str(path))


def _unique_pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateJSONKey(k)
        out[k] = v
    return out


class _DuplicateJSONKey(ValueError):
    pass


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str, where: str) -> Any:
    """JSON text -> Python values; duplicate keys and NaN / Infinity refused."""
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise UserError(f"{where}: line {err.lineno}: not valid JSON ({err.msg}, column "
                        f"{err.colno})") from None
    except _DuplicateJSONKey as err:
        raise UserError(f"{where}: not valid JSON (key {err.args[0]!r} appears twice in one "
                        f"object)") from None
    except ValueError as err:
        raise UserError(f"{where}: not valid JSON ({err})") from None
    except RecursionError:
        raise UserError(f"{where}: not valid JSON (nested too deeply)") from None


def read_json(path, *, expected: str = "a JSON file") -> Any:
    """A JSON file's content (duplicate keys and NaN / Infinity refused)."""
    return parse_json(read_text(path, expected=expected), str(path))


@dataclass(frozen=True)
class CsvRow:
    """One data row: its line number in the file (blank lines counted) and its cells by column
    name (stripped; a missing trailing cell is "")."""

    line: int
    cells: Mapping[str, str]

    def __getitem__(self, column: str) -> str:
        return self.cells[column]

    def get(self, column: str, default: str = "") -> str:
        return self.cells.get(column, default)


@dataclass(frozen=True)
class CsvTable:
    path: str
    header: tuple[str, ...]
    rows: tuple[CsvRow, ...]

    def where(self, row: CsvRow | None = None, column: str | None = None) -> str:
        """'file: line N: column C' for messages."""
        parts = [self.path]
        if row is not None:
            parts.append(f"line {row.line}")
        if column is not None:
            parts.append(f"column {column}")
        return ": ".join(parts)


def parse_csv(text: str, where: str, *, required: Sequence[str] = (),
              expected: str = "") -> CsvTable:
    """CSV text with a header row -> CsvTable. Refuses an empty or duplicated column name, a
    row with more cells than the header, missing required columns and malformed quoting (strict:
    a quote never closed would otherwise swallow the rest of the file into one cell)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1                   # the line the row being read begins on
    try:
        header = None
        header_line = 0
        for cells in reader:
            start = reader.line_num + 1
            if any(c.strip() for c in cells):
                header = [c.strip() for c in cells]
                header_line = reader.line_num
                break
        if header is None:
            raise UserError(f"{where}: empty; expected a header row"
                            + (f" ({expected})" if expected else ""))
        for i, name in enumerate(header):
            if not name:
                raise UserError(f"{where}: line {header_line}: column {i + 1} of the header has "
                                f"no name")
            if name in header[:i]:
                raise UserError(f"{where}: line {header_line}: column {name!r} appears twice in "
                                f"the header")
        missing = [c for c in required if c not in header]
        if missing:
            raise UserError(f"{where}: no {', '.join(map(repr, missing))} "
                            f"column{'s' if len(missing) > 1 else ''}"
                            + (f" (expected {expected})" if expected else ""))
        rows = []
        start = reader.line_num + 1
        for cells in reader:
            line = start
            start = reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise UserError(f"{where}: line {line}: {len(cells)} cells, more than the "
                                f"{len(header)} columns of the header")
            values = {h: (cells[i].strip() if i < len(cells) else "")
                      for i, h in enumerate(header)}
            rows.append(CsvRow(line=line, cells=values))
    except csv.Error as err:
        if "unexpected end of data" in str(err):
            raise UserError(f"{where}: line {start}: a quoted cell is never closed (its quote "
                            f"runs to the end of the file); expected a closing quote") from None
        raise UserError(f"{where}: line {reader.line_num}: not valid CSV ({err})") from None
    return CsvTable(path=where, header=tuple(header), rows=tuple(rows))


def number_cell(table: CsvTable, row: CsvRow, column: str, low: float, high: float, what: str,
                empty: float | None = None) -> float:
    """A cell as a finite float within [low, high]; `empty` for an empty cell where given. One
    line naming file, line, column and value otherwise."""
    text = row.get(column, "")
    if text == "" and empty is not None:
        return empty
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{table.where(row, column)} = {text!r}: expected {what}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise UserError(f"{table.where(row, column)} = {text!r}: expected {what} between "
                        f"{low:g} and {high:g}")
    return value


def read_csv(path, *, required: Sequence[str] = (), expected: str = "a CSV file") -> CsvTable:
    return parse_csv(read_text(path, expected=expected), str(path), required=required,
                     expected=expected)


# ---- plain values -------------------------------------------------------------------------------

def json_safe(obj: Any) -> Any:
    """numpy scalars / arrays -> Python values; NaN and infinities -> None (JSON has neither)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist"):
        return json_safe(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ---- writing ------------------------------------------------------------------------------------

def _temp_beside(path: Path) -> tuple[int, Path]:
    """An exclusive new file next to `path` (same folder, so a rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp", dir=path.parent)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o666 & ~_UMASK)      # as open() would create it, not mkstemp's 0600
    return fd, Path(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write_bytes(path, data: bytes, *, what: str = "output") -> Path:
    """Write `data` to a temporary file beside `path`, then rename it to `path`: a reader (or
    an interrupted run) sees the old file or the new one, never a part."""
    p = Path(path)
    if p.is_symlink():          # write through the link: the file it names gets the output
        p = Path(os.path.realpath(p))
    if p.is_dir():
        raise UserError(f"{p}: is a folder; expected a file name for the {what}")
    if p.exists() and not p.is_file():
        raise UserError(f"{p}: not a regular file (a pipe, socket or device); expected a file "
                        f"name for the {what}")
    tmp = None
    try:
        fd, tmp = _temp_beside(p)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, p)
        tmp = None
    except OSError as err:
        raise output_error(p, err, what) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p


def atomic_write_text(path, text: str, *, what: str = "output") -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), what=what)


def write_stored_text(path, text: str, *, what: str = "output") -> Path:
    """Write `text` where `path` is stored (stored_file): gzip-compressed where that file's name
    ends in .gz (the kept <name>.gz copy, or a .gz path given), else as plain text; atomically
    either way. The path written."""
    target = stored_file(path)
    data = text.encode("utf-8")
    return atomic_write_bytes(target, gzip_bytes(data) if target.suffix == ".gz" else data,
                              what=what)


def atomic_write_json(path, obj: Any, *, indent: int | None = None, what: str = "output") -> Path:
    seps = (",", ":") if indent is None else (",", ": ")
    return atomic_write_text(path, json.dumps(json_safe(obj), indent=indent, separators=seps)
                             + "\n", what=what)


def csv_text(header: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in header})
    return buf.getvalue()


class _Lock:
    """An exclusive, non-blocking lock on `<parent>/.<name>.lock` (flock: released by the OS
    if the process dies, so a crash leaves no stale lock)."""

    def __init__(self, target: Path, option: str):
        self.path = target.parent / f".{target.name[:200]}.lock"
        self.target = target
        self.option = option
        self.fd = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:             # pragma: no cover (Windows: no lock)
            return
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as err:
                raise output_error(self.target, err) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise UserError(f"{self.option} {self.target}: another roofsim run is writing "
                                f"there now; wait for it to finish or choose another folder") \
                    from None
            try:        # the file we locked must still be the one at the path (see release)
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except OSError:
                same = False
            if same:
                self.fd = fd
                return
            os.close(fd)
        raise UserError(f"{self.option} {self.target}: could not take the output lock")

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C back while a few renames run, then deliver it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    try:
        previous = signal.signal(signal.SIGINT, lambda *a: caught.append(a))
    except ValueError:                  # pragma: no cover
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


def _install(staged: Path, target: Path, attic: Path) -> None:
    """Move every entry of `staged` into `target`, replacing entries of the same name (an old
    folder is moved to `attic` first, deleted with it). Entries of `target` that the new output
    does not have are left alone."""
    if not target.exists():
        os.rename(staged, target)
        return
    for entry in sorted(staged.iterdir()):
        dest = target / entry.name
        plain_file = dest.is_file() and not dest.is_symlink() and not entry.is_dir()
        if os.path.lexists(dest) and not plain_file:
            os.rename(dest, attic / entry.name)
        os.replace(entry, dest)


@contextlib.contextmanager
def output_folder(target, *, option: str = "--out") -> Iterator[Path]:
    """Assemble an output folder: yields an empty temporary folder beside `target`; when the
    block ends normally its entries replace those of `target` (created if missing). While the
    block runs, a second `output_folder` on the same target is refused (UserError). If the block
    raises (an error, Ctrl-C), `target` is left as it was and the temporary folder removed."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UserError(f"{option} {target}: is a file; expected a folder")
    if not str(target).strip():
        raise UserError(f"{option} '': expected a folder name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise output_error(target, err, "output folder") from None
    lock = _Lock(target, option)
    lock.acquire()
    work = None
    try:
        try:
            work = Path(tempfile.mkdtemp(prefix=f".{target.name[:200]}.", suffix=".tmp",
                                         dir=target.parent))
            staged = work / "new"
            staged.mkdir()
            (work / "old").mkdir()
        except OSError as err:
            raise output_error(target, err, "output folder") from None
        yield staged
        try:
            with _sigint_deferred():
                _install(staged, target, work / "old")
        except OSError as err:
            raise output_error(target, err, "output folder") from None
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        lock.release()


def check_output_file(path, *, option: str = "-o") -> Path:
    """Fail early (before any work) on an output file path that cannot be written: a folder,
    a missing or read-only parent folder, an empty name."""
    p = Path(path)
    if not str(path).strip():
        raise UserError(f"{option} '': expected a file name")
    if p.is_dir():
        raise UserError(f"{option} {p}: is a folder; expected a file name")
    parent = p.parent
    fault = parent_fault(p)
    if fault is not None:
        raise UserError(f"{option} {p}: {fault}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{option} {p}: cannot write in the folder {parent} (permission denied)")
    if len(p.name.encode()) > 255:
        raise UserError(f"{option} {p.name[:40]}...: the file name is longer than 255 bytes")
    return p


def check_output_folder(path, *, option: str = "--out") -> Path:
    """Fail early on an output folder that cannot be made: a file in its place, an ancestor that
    is a file, an unwritable parent, a name too long, an empty name."""
    p = Path(path)
    if not str(path).strip():
        raise UserError(f"{option} '': expected a folder name")
    for part in p.parts:
        if len(part.encode()) > 255:
            raise UserError(f"{option} {part[:40]}...: a folder name is longer than 255 bytes")
    if p.exists() and not p.is_dir():
        raise UserError(f"{option} {p}: is a file; expected a folder")
    ancestor = p.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise UserError(f"{option} {p}: {ancestor} is a file, not a folder")
    if ancestor.exists() and not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError(f"{option} {p}: cannot write in the folder {ancestor} "
                        f"(permission denied)")
    return p


__all__ = [
    "CsvRow", "CsvTable", "MAX_INPUT_BYTES", "atomic_write_bytes", "atomic_write_json",
    "atomic_write_text", "check_output_file", "check_output_folder", "csv_text", "dump_yaml",
    "input_error", "json_safe", "output_error", "output_folder", "parse_csv", "parse_json",
    "parse_yaml",
    "read_bytes", "read_csv", "read_json", "read_text", "read_yaml",
]
