"""A short secret in the state, sealed: whoever reads the state alone cannot read it.

The key is derived from PASSERELLE_SECRET and the person's Telegram ids (see
`PseudonymKeyBuilder.seal_key`), apart from the pseudonym that names the state: the
state, its key names and even the secret are not enough without the person's ids.

Standard library only, and a few microseconds: keyed BLAKE2b (a MAC and a PRF by
design) gives a keystream under a random 96-bit nonce, XORed with the text, then a
128-bit tag over nonce and ciphertext, checked in constant time before anything is
decrypted (encrypt-then-MAC). Keystream and tag use distinct personalisations, so one
can never stand for the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

NONCE = 12
TAG = 16
BLOCK = 64
MAX_TEXT = 255 * BLOCK
_STREAM = b"passerelle-ks"
_MAC = b"passerelle-tag"


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    if length <= BLOCK:  # a code and a few slugs: one block
        return hashlib.blake2b(nonce + b"\0", key=key, person=_STREAM).digest()[:length]
    blocks = (length + BLOCK - 1) // BLOCK
    stream = b"".join(hashlib.blake2b(nonce + bytes([n]), key=key, person=_STREAM).digest() for n in range(blocks))
    return stream[:length]


def _tag(key: bytes, body: bytes) -> bytes:
    return hashlib.blake2b(body, key=key, person=_MAC, digest_size=TAG).digest()


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def seal(key: bytes, text: str) -> str:
    """`text`, encrypted and authenticated under `key` (32 bytes), as URL-safe base64."""
    plain = text.encode()
    if len(plain) > MAX_TEXT:
        raise ValueError("too long to seal")
    nonce = os.urandom(NONCE)
    body = nonce + _xor(plain, _keystream(key, nonce, len(plain)))
    return base64.urlsafe_b64encode(body + _tag(key, body)).rstrip(b"=").decode()


def unseal(key: bytes, sealed: str) -> str | None:
    """The text `seal(key, text)` gave, or None when it was sealed under another key or altered."""
    try:
        raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < NONCE + TAG:
        return None
    body, tag = raw[:-TAG], raw[-TAG:]
    if not hmac.compare_digest(tag, _tag(key, body)):
        return None
    nonce, cipher = body[:NONCE], body[NONCE:]
    try:
        return _xor(cipher, _keystream(key, nonce, len(cipher))).decode()
    except UnicodeDecodeError:
        return None
