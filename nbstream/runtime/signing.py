"""Files that only their owner reads, signed so that nbstream knows who wrote them.

Checkpoints, savepoints and recordings are read back by nbstream, and what they hold may
include pickled Python objects (see :mod:`nbstream.runtime.state_format`): reading a file
someone else made could run their code. So every such file nbstream writes is

* private: folders are created ``0700`` and files ``0600`` (:func:`private_dir`,
  :func:`write_private`), so other local users can neither read the records in them nor
  plant files there;
* signed: an HMAC-SHA256 of its bytes under this user's key goes into ``<file>.sig``
  (:func:`sign_file`), a small JSON document with the key's id.

Before nbstream uses the bytes of such a file, :func:`check_file` verifies them against
the signature. A file
without one (written before files were signed, or by something else), or signed with
another key (someone else's nbstream), is refused with a :class:`UntrustedFileError`
naming it, unless the caller says it trusts the file (``trust=True``).

The key: 32 random bytes, hex, in ``$NBSTREAM_KEY_FILE`` if set, else in
``$XDG_CONFIG_HOME/nbstream/signing.key`` (``~/.config/nbstream/signing.key``). It is
made on first use (``0600``, in a ``0700`` folder); a key file others may read is
refused. Copy the file to another machine to trust its files there.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "data.bin")
>>> write_private(path, b"state")
>>> sign_file(path)
>>> check_file(path, b"state", "test file")
'own'
>>> check_file(path, b"other state", "test file")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nbstream.runtime.signing.UntrustedFileError: test file ... is not trusted: it was changed after ...
>>> oct(os.stat(path).st_mode & 0o777)
'0o600'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
from typing import Any, Dict, Optional, Tuple

from ..errors import NbstreamError

__all__ = ["UntrustedFileError", "key_file", "signing_key", "key_id", "sign_file", "check_file",
           "signature_path", "private_dir", "write_private", "open_private", "KEY_ENV",
           "ALGORITHM"]

KEY_ENV = "NBSTREAM_KEY_FILE"
ALGORITHM = "HMAC-SHA256"
SUFFIX = ".sig"
_CHUNK = 1 << 20

_lock = threading.Lock()
_keys: Dict[Tuple[str, float], bytes] = {}


class UntrustedFileError(NbstreamError):
    """A file nbstream would read back is not signed by this user's key (or was changed
    since): it is not read unless the caller trusts it. ``what`` and ``path`` name the
    file, ``why`` says what is wrong, ``verdict`` is ``"unsigned"``, ``"other"`` (another
    key) or ``"changed"`` (this user's key, other bytes: damaged or tampered with);
    :meth:`explain` words the message for another way of trusting it (``--trust``)."""

    def __init__(self, what: str, path: str, why: str, hint: str,
                 verdict: str = "unsigned") -> None:
        self.what, self.path, self.why, self.verdict = what, path, why, verdict
        super().__init__(self.explain(hint))

    def explain(self, hint: str) -> str:
        return (f"{self.what} {self.path} is not trusted: {self.why}. Reading it could run "
                f"code it holds; if you trust where it came from, pass {hint}")

    def __reduce__(self) -> Any:
        return (_untrusted, (self.what, self.path, self.why, self.verdict, str(self)))


def _untrusted(what: str, path: str, why: str, verdict: str, message: str) -> UntrustedFileError:
    error = UntrustedFileError(what, path, why, "", verdict)
    error.args = (message,)
    return error


# -- private files ----------------------------------------------------------------------------------
def private_dir(path: str) -> str:
    """Make folder ``path`` and any missing parents, each ``0700`` (existing ones are left
    as they are); return ``path``."""
    path = os.path.abspath(os.path.expanduser(path))
    missing = []
    head = path
    while head and not os.path.isdir(head):
        missing.append(head)
        parent = os.path.dirname(head)
        if parent == head:
            break
        head = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise
        else:
            os.chmod(folder, 0o700)  # whatever the umask
    return path


def open_private(path: str, mode: str = "wb") -> Any:
    """``open(path, mode)`` for writing, the file created ``0600`` (an existing file is
    made ``0600`` too)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str, data: bytes) -> None:
    """Write ``data`` to ``path``, a file only this user can read (``0600``)."""
    with open_private(path) as f:
        f.write(data)


# -- the key ----------------------------------------------------------------------------------------
def key_file() -> str:
    """Where this user's signing key is: ``$NBSTREAM_KEY_FILE``, else
    ``$XDG_CONFIG_HOME/nbstream/signing.key`` (``~/.config/nbstream/signing.key``)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, "nbstream", "signing.key")


def signing_key() -> bytes:
    """This user's key (made on first use, 0600). Raises if the key file is readable by
    others or not this user's."""
    path = key_file()
    with _lock:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            _create_key(path)
            info = os.stat(path)
        _check_key_file(path, info)
        cached = _keys.get((path, info.st_mtime))
        if cached is not None:
            return cached
        with open(path) as f:
            text = f.read().strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < 16:
            raise NbstreamError(f"the signing key file {path} does not hold a key (64 hex "
                                f"digits); remove it to have a new key made")
        _keys[(path, info.st_mtime)] = key
        return key


def _create_key(path: str) -> None:
    """Write a new key so that no reader ever sees a partial file: into a private temporary
    file, then linked to its name (if another process made one meanwhile, that one stays)."""
    private_dir(os.path.dirname(path))
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _check_key_file(path: str, info: os.stat_result) -> None:
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise NbstreamError(f"the signing key file {path} belongs to another user; nbstream "
                            f"uses only a key of your own (set {KEY_ENV} to another file)")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NbstreamError(f"the signing key file {path} can be read by other users "
                            f"(mode {oct(info.st_mode & 0o777)}): anyone who reads it can "
                            f"make files nbstream trusts; run chmod 600 {path}")


def key_id(key: Optional[bytes] = None) -> str:
    """A short public name of a key (16 hex digits), so that a message can say whose it is."""
    key = signing_key() if key is None else key
    return hmac.new(key, b"nbstream key id", hashlib.sha256).hexdigest()[:16]


# -- signatures -------------------------------------------------------------------------------------
def signature_path(path: str) -> str:
    return path + SUFFIX


def _file_mac(key: bytes, path: str) -> str:
    mac = hmac.new(key, b"", hashlib.sha256)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            mac.update(chunk)
    return mac.hexdigest()


def sign_file(path: str) -> None:
    """Write ``<path>.sig``: the signature of the file's bytes (0600)."""
    key = signing_key()
    body = {"algorithm": ALGORITHM, "key_id": key_id(key), "mac": _file_mac(key, path)}
    write_private(signature_path(path), json.dumps(body).encode())


def check_file(path: str, data: bytes, what: str, trust: bool = False,
               hint: str = "trust=True") -> str:
    """Verify that ``data``, the bytes read from ``path`` (read once, so they cannot change
    between the check and their use), are what ``<path>.sig`` signed. Returns ``"own"``, or
    (with ``trust``) the verdict that was overridden. Raises :class:`UntrustedFileError`
    naming ``what`` and the file, and saying how to trust it (``hint``), when it is not
    signed by this user's key."""
    try:
        with open(signature_path(path), "rb") as f:
            signature = json.loads(f.read())
    except FileNotFoundError:
        signature = None
    except (OSError, ValueError):
        signature = {"algorithm": "unreadable"}
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        verdict = "unsigned"
    else:
        key = signing_key()
        if signature.get("key_id") != key_id(key):
            verdict = "other"
        else:
            mac = hmac.new(key, data, hashlib.sha256).hexdigest()
            verdict = "own" if hmac.compare_digest(mac, str(signature.get("mac", ""))) \
                else "changed"
    if verdict == "own" or trust:
        return verdict
    raise UntrustedFileError(what, path, _why(verdict, signature), hint, verdict)


def _why(verdict: str, signature: Any) -> str:
    if verdict == "unsigned":
        return ("it is not signed: it was written by an nbstream from before files were "
                "signed, or by something else")
    if verdict == "other":
        theirs = signature.get("key_id", "?") if isinstance(signature, dict) else "?"
        return (f"it is signed with another key (id {theirs}; yours is {key_id()}): someone "
                f"else wrote it")
    return "it was changed after nbstream signed it (edited, damaged or swapped)"
