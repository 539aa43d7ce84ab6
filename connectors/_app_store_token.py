"""The App Store Connect API's credential: the team's ``.p8`` key read from a file, and the short
ES256 token signed with it for every request (platform-apis-2.md section 6).

A token is ``{"alg": "ES256", "kid": <key id>, "typ": "JWT"}`` over ``{"iss": <issuer id>,
"iat": now, "exp": now + lifetime, "aud": "appstoreconnect-v1"}``. Apple refuses (401) a token
whose ``exp`` is more than 20 minutes ahead of *its* clock, so a token lives 19 minutes here
(a minute for our clock running ahead) and is replaced two minutes before it ends. Age is
measured on both clocks (`monitor.clock`): the wall clock dates the token, the monotonic one
notices that a token is old even after the wall clock was stepped back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from monitor.clock import Clock
from monitor.errors import ConfigError

AUDIENCE = "appstoreconnect-v1"
LIFETIME_SECONDS = 19 * 60
"""Apple's limit is 20 minutes ahead of its clock; one is left for ours running ahead."""
RENEW_BEFORE_SECONDS = 120.0
"""A token this close to its end is replaced before it is sent (a poll takes a few seconds)."""
KEY_STEPS = (
    "App Store Connect > Users and Access > Integrations > App Store Connect API > Team Keys: "
    "generate a key (role Customer Support or higher), download AuthKey_<key id>.p8 once, and "
    "set private_key_path to it (readable by the service's user only)"
)


def read_private_key(path: Path) -> str:
    """The PEM text of an App Store Connect API key file; `ConfigError` naming the fix when the
    file is missing, unreadable or not an EC P-256 private key. The key is never in the error."""
    try:
        pem = path.read_text(encoding="ascii")
    except FileNotFoundError as err:
        raise ConfigError(f"private_key_path {path} does not exist: {KEY_STEPS}") from err
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not a text file"
        raise ConfigError(
            f"private_key_path {path} cannot be read ({reason}): make it readable by the "
            "service's user (chmod 600, owned by that user)"
        ) from err
    try:
        key = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).prepare_key(pem)
    except (jwt.InvalidKeyError, ValueError, TypeError) as err:
        raise ConfigError(
            f"private_key_path {path} is not an App Store Connect API key (a .p8 file holding "
            f"'-----BEGIN PRIVATE KEY-----'): {KEY_STEPS}"
        ) from err
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigError(
            f"private_key_path {path} holds another kind of key (App Store Connect keys are EC "
            f"P-256 private keys): {KEY_STEPS}"
        )
    return pem


@dataclass(slots=True)
class _Minted:
    token: str
    expires: float
    """Wall-clock epoch seconds (the token's ``exp``)."""
    minted: float
    """On the monotonic clock."""


class TokenSigner:
    """The bearer token for the next request: the one in hand while it has time left, else a
    new one. `forget` drops it (after a 401, so the retry carries a fresh one)."""

    def __init__(self, *, private_key: str, key_id: str, issuer_id: str, clock: Clock) -> None:
        self._key = private_key
        self.key_id = key_id
        self.issuer_id = issuer_id
        self._clock = clock
        self._current: _Minted | None = None
        self.minted = 0
        """Tokens signed so far (tests and the benchmark read it)."""

    def bearer(self) -> str:
        current = self._current
        if current is None or self._ending(current):
            current = self._current = self._mint()
        return current.token

    def forget(self) -> None:
        self._current = None

    def _ending(self, current: _Minted) -> bool:
        wall_left = current.expires - self._clock.now().timestamp()
        age = self._clock.monotonic() - current.minted
        return min(wall_left, LIFETIME_SECONDS - age) <= RENEW_BEFORE_SECONDS

    def _mint(self) -> _Minted:
        now = int(self._clock.now().timestamp())
        payload = {
            "iss": self.issuer_id,
            "iat": now,
            "exp": now + LIFETIME_SECONDS,
            "aud": AUDIENCE,
        }
        token = jwt.encode(payload, self._key, algorithm="ES256", headers={"kid": self.key_id})
        self.minted += 1
        return _Minted(token, float(now + LIFETIME_SECONDS), self._clock.monotonic())
