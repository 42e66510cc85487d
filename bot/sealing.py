"""A short secret in the state, sealed: whoever reads the state alone cannot read it.

The key is derived from PASSERELLE_SECRET and the person's Telegram ids (see
`PseudonymKeyBuilder.seal_key`), apart from the pseudonym that names the state: the
state, its key names and even the secret are not enough without the person's ids.

Standard library only: a keystream of HMAC-SHA256 blocks under a random 96-bit nonce,
XORed with the text, then an HMAC-SHA256 tag (128 bits) over nonce and ciphertext,
checked in constant time before anything is decrypted (encrypt-then-MAC). Keystream
and tag use the same key with distinct first bytes, so their inputs never meet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

NONCE = 12
TAG = 16
_STREAM = b"\x01"
_MAC = b"\x02"


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    return b"".join(hmac.digest(key, _STREAM + nonce + bytes([n]), hashlib.sha256) for n in range(blocks))[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def seal(key: bytes, text: str) -> str:
    """`text` (at most 8 KB), encrypted and authenticated under `key`, as URL-safe base64."""
    plain = text.encode()
    if len(plain) > 255 * 32:
        raise ValueError("too long to seal")
    nonce = secrets.token_bytes(NONCE)
    body = nonce + _xor(plain, _keystream(key, nonce, len(plain)))
    tag = hmac.digest(key, _MAC + body, hashlib.sha256)[:TAG]
    return base64.urlsafe_b64encode(body + tag).rstrip(b"=").decode()


def unseal(key: bytes, sealed: str) -> str | None:
    """The text `seal(key, text)` gave, or None when it was sealed under another key or altered."""
    try:
        raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < NONCE + TAG:
        return None
    body, tag = raw[:-TAG], raw[-TAG:]
    if not hmac.compare_digest(tag, hmac.digest(key, _MAC + body, hashlib.sha256)[:TAG]):
        return None
    nonce, cipher = body[:NONCE], body[NONCE:]
    try:
        return _xor(cipher, _keystream(key, nonce, len(cipher))).decode()
    except UnicodeDecodeError:
        return None
