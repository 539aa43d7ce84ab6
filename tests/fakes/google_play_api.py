"""A fake Google Play Developer API (Android Publisher v3 reviews) on 127.0.0.1, in its wire
format (platform-apis-2.md section 5), with the OAuth2 token endpoint google-auth calls.

``POST /token`` takes the service account's JWT bearer grant (``grant_type=urn:ietf:params:oauth:
grant-type:jwt-bearer``, ``assertion``), checks its RS256 signature against the public key of the
key file `service_account` wrote, its ``iss``, ``scope`` and ``aud``, and answers an access token
(``expires_in`` 3599); a JWT signed by any other key gets 400 ``invalid_grant``.

``GET /androidpublisher/v3/applications/<package>/reviews`` (``maxResults``, ``token``) lists the
package's reviews that have text and were modified in the last seven days, most recently modified
first, paged with ``tokenPagination.nextPageToken`` (none on the last page); ``reviews/<id>`` is
``reviews.get``. Without a token it issued: 401 ``UNAUTHENTICATED``; a package the service account
was not invited to (`grant`): 403 ``PERMISSION_DENIED``; an unknown package: 404. Errors are
Google's ``{"error": {"code", "message", "status"}}``; ``Fault.rate_limited(s)`` adds
``Retry-After``. `edit` changes a review's text and stars and moves its ``lastModified``.

    with FakeGooglePlay(clock=lambda: clock.now().timestamp()) as play:
        key_file = play.service_account(tmp_path / "key.json")
        play.review("App keeps crashing", rating=1)
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.server import FakeServer, Fault, Request, Response, route

PACKAGE = "com.acme.shop"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"
AUDIENCE = "https://oauth2.googleapis.com/token"
WEEK = 7 * 86_400
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_KEYS: list[rsa.RSAPrivateKey] = []
_KEYS_LOCK = threading.Lock()


def rsa_key(slot: int = 0) -> rsa.RSAPrivateKey:
    """A throwaway 2048-bit key, made once per process and slot (making one takes ~50 ms)."""
    with _KEYS_LOCK:
        while len(_KEYS) <= slot:
            _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _KEYS[slot]


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class FakeGooglePlay(FakeServer):
    """Android Publisher's reviews and Google's token endpoint; a context manager."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        packages: tuple[str, ...] = (PACKAGE,),
        client_email: str = "monitor@acme-play.iam.gserviceaccount.com",
    ) -> None:
        super().__init__()
        self._clock = clock or time.time
        self.client_email = client_email
        self.key = rsa_key(0)
        self.reviews: dict[str, list[dict[str, Any]]] = {name: [] for name in packages}
        self.granted: set[str] = set(packages)
        """Packages the service account was invited to in the Play Console."""
        self.tokens: set[str] = set()
        self._ids = itertools.count(1)
        self._newest = 0.0
        self._token_ids = itertools.count(1)

    def use_system_clock(self) -> None:
        with self._lock:
            self._clock = time.time

    # -- credentials ----------------------------------------------------------------------

    def service_account_info(self, *, key: rsa.RSAPrivateKey | None = None) -> dict[str, str]:
        """A service-account key file's JSON whose token_uri is this fake."""
        return {
            "type": "service_account",
            "project_id": "acme-play",
            "private_key_id": "3f1c0ffee0000000000000000000000000000001",
            "private_key": pem(key or self.key),
            "client_email": self.client_email,
            "client_id": "101234567890123456789",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": f"{self.root_url}/token",
        }

    def service_account(self, path: Path, *, key: rsa.RSAPrivateKey | None = None) -> Path:
        """Write a key file (mode 600) at `path`; `key` another key (one Google would refuse)."""
        path.write_text(json.dumps(self.service_account_info(key=key)))
        path.chmod(0o600)
        return path

    # -- content --------------------------------------------------------------------------

    def review(
        self,
        text: str,
        *,
        rating: int = 1,
        author: str = "Erin",
        package: str = PACKAGE,
        title: str | None = None,
        language: str = "en",
        modified: float | None = None,
        reply: str | None = None,
    ) -> str:
        """A review (the newest); its reviewId."""
        with self._lock:
            stamp = self._stamp_now() if modified is None else modified
            review_id = f"gp:AOqpTOH{next(self._ids):06d}"
            body = f"{title}\t{text}" if title is not None else f"\t{text}"
            comments: list[dict[str, Any]] = [
                {
                    "userComment": {
                        "text": body,
                        "lastModified": _stamp(stamp),
                        "starRating": rating,
                        "reviewerLanguage": language,
                        "device": "a52q",
                        "androidOsVersion": 34,
                        "appVersionCode": 4200,
                        "appVersionName": "4.2.0",
                        "thumbsUpCount": 0,
                        "thumbsDownCount": 0,
                        "deviceMetadata": {"productName": "Galaxy A52", "manufacturer": "Samsung"},
                    }
                }
            ]
            if reply is not None:
                comments.append(
                    {"developerComment": {"text": reply, "lastModified": _stamp(stamp + 60)}}
                )
            self.reviews[package].append(
                {"reviewId": review_id, "authorName": author, "comments": comments}
            )
            return review_id

    def review_many(self, count: int, text: str, *, package: str = PACKAGE) -> list[str]:
        """`count` reviews, oldest first (``{n}`` in `text` is their number)."""
        with self._lock:
            return [self.review(text.format(n=n), package=package) for n in range(count)]

    def _stamp_now(self) -> float:
        """Now, and always after the newest review so far (a burst within one clock tick still
        has an order)."""
        self._newest = max(self._clock(), self._newest + 0.001)
        return self._newest

    def edit(
        self, review_id: str, text: str, *, rating: int | None = None, package: str = PACKAGE
    ) -> None:
        """The author edits the review: new text (and stars), ``lastModified`` now."""
        with self._lock:
            review = next(r for r in self.reviews[package] if r["reviewId"] == review_id)
            comment = review["comments"][0]["userComment"]
            comment["text"] = f"\t{text}"
            comment["lastModified"] = _stamp(self._stamp_now())
            if rating is not None:
                comment["starRating"] = rating

    # -- the API ----------------------------------------------------------------------------

    def error_response(self, request: Request, fault: Fault) -> Response:
        code = fault.code
        if request.path == "/token":
            return Response(code, {"error": fault.error or "invalid_grant"})
        message = fault.error or {
            429: "Quota exceeded",
            403: "The caller does not have permission",
        }.get(code, "Backend Error")
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after))
        body = {"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}}
        return Response(code, body, headers)

    def dispatch(self, request: Request) -> Response:
        if request.path != "/token" and request.token not in self.tokens:
            return self._error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        return super().dispatch(request)

    @route("POST", "/token")
    def _token(self, request: Request) -> Response:
        form = request.body if isinstance(request.body, dict) else {}
        if form.get("grant_type") != GRANT:
            return Response(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(
                str(form.get("assertion", "")),
                self.key.public_key(),
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=self.client_email,
            )
        except jwt.PyJWTError:
            return Response(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        if SCOPE not in str(claims.get("scope", "")).split():
            return Response(400, {"error": "invalid_scope"})
        token = f"ya29.fake-{next(self._token_ids)}"
        self.tokens.add(token)
        return Response(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    @route("GET", r"/androidpublisher/v3/applications/(?P<package>[^/]+)/reviews")
    def _list(self, request: Request, package: str) -> Response:
        refused = self._refused(package)
        if refused is not None:
            return refused
        listed = self._listed(package)
        size = min(int(request.query.get("maxResults") or 100), 100)
        token = request.query.get("token")
        try:
            start = _offset(token) if token else int(request.query.get("startIndex") or 0)
        except ValueError:
            return self._error(400, "Invalid pagination token.")
        with self._lock:  # a copy: an edit must not change an answer being written
            page = json.loads(json.dumps(listed[start : start + size]))
        body: dict[str, Any] = {
            "reviews": page,
            "pageInfo": {"totalResults": len(listed), "resultPerPage": size, "startIndex": start},
        }
        if start + size < len(listed):
            body["tokenPagination"] = {"nextPageToken": _token_for(start + size)}
        return Response(200, body)

    @route("GET", r"/androidpublisher/v3/applications/(?P<package>[^/]+)/reviews/(?P<rid>[^/]+)")
    def _get(self, request: Request, package: str, rid: str) -> Response:
        refused = self._refused(package)
        if refused is not None:
            return refused
        for review in self._listed(package):
            if review["reviewId"] == rid:
                with self._lock:
                    return Response(200, json.loads(json.dumps(review)))
        return self._error(404, "Review not found.")

    def _refused(self, package: str) -> Response | None:
        if package not in self.reviews:
            return self._error(404, f"Package not found: {package}.")
        if package not in self.granted:
            return self._error(403, "The caller does not have permission")
        return None

    def _listed(self, package: str) -> list[dict[str, Any]]:
        """Reviews with text modified in the last week, most recently modified first."""
        with self._lock:
            floor = self._clock() - WEEK
            found = [
                review
                for review in self.reviews[package]
                if _seconds(review) >= floor and review["comments"][0]["userComment"]["text"]
            ]
        return sorted(found, key=_seconds, reverse=True)

    def _error(self, code: int, message: str) -> Response:
        return Response(
            code, {"error": {"code": code, "message": message, "status": _STATUS.get(code, "")}}
        )


def _stamp(seconds: float) -> dict[str, Any]:
    """Google's Timestamp: seconds as a string, nanos as a number."""
    whole = int(seconds)
    return {"seconds": str(whole), "nanos": round((seconds - whole) * 1e9)}


def _seconds(review: dict[str, Any]) -> float:
    stamp = review["comments"][0]["userComment"]["lastModified"]
    return int(stamp["seconds"]) + stamp["nanos"] / 1e9


def _token_for(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii", "replace")
    kind, _, value = raw.partition(":")
    if kind != "offset" or not value.isdigit():
        raise ValueError(token)
    return int(value)
