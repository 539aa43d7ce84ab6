"""A fake App Store Connect API on 127.0.0.1, in its wire format (platform-apis-2.md section 6).

It serves ``GET /v1/apps/{id}/customerReviews`` (``sort`` ``-createdDate``/``createdDate``,
``limit`` up to 200, ``filter[rating]``, ``filter[territory]``, ``fields[customerReviews]``) as
JSON:API: ``data`` of ``customerReviews`` resources, ``links.self``, ``links.next`` on every page
but the last (carrying only ``cursor`` and ``limit``, as Apple's do: the cursor holds the rest)
and ``meta.paging``. The cursor is an offset, so a review added between two pages shifts the
next page by one, as an offset cursor would. ``GET /v1/apps/{id}`` answers the app's name.

Every request must carry an ES256 token the fake verifies as Apple does: signed by the key whose
public half the test gave (`public_key`), ``kid`` = `key_id`, ``iss`` = `issuer_id`, ``aud`` =
``appstoreconnect-v1``, not expired and ``exp`` at most 20 minutes ahead of the fake's clock.
Otherwise 401 ``NOT_AUTHORIZED`` in the JSON:API error shape, with the reason in `refusals`.
Every answer carries ``X-Rate-Limit: user-hour-lim:3500;user-hour-rem:N;``.

    key = new_key(tmp_path / "AuthKey_TESTKEY123.p8")
    with FakeAppStore(key.public_key(), clock=lambda: clock.now().timestamp()) as store:
        store.review(app_id, "Crashes on launch", rating=1)
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.server import FakeServer, Fault, Request, Response, route

APP_ID = "682658836"
KEY_ID = "TESTKEY123"
ISSUER_ID = "57246542-96fe-1a63-e053-0824d011072a"
HOUR_LIMIT = 3500
MAX_TOKEN_SECONDS = 20 * 60
PACIFIC = timezone(timedelta(hours=-8))
_TITLES = {
    401: ("NOT_AUTHORIZED", "Authentication credentials are missing or invalid."),
    403: ("FORBIDDEN_ERROR", "This request is forbidden for security reasons"),
    404: ("NOT_FOUND", "The specified resource does not exist"),
    400: ("PARAMETER_ERROR.INVALID", "A parameter has an invalid value"),
    429: ("RATE_LIMIT_EXCEEDED", "The request rate limit has been reached."),
}


def new_key(path: Path | None = None) -> ec.EllipticCurvePrivateKey:
    """A fresh EC P-256 key, written to `path` as App Store Connect's .p8 file (PKCS#8 PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    if path is not None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return key


def iso(stamp: float) -> str:
    """Apple's dates: seconds and a UTC offset, e.g. ``2026-11-23T04:00:00-08:00``."""
    return datetime.fromtimestamp(stamp, PACIFIC).isoformat(timespec="seconds")


class FakeAppStore(FakeServer):
    """One App Store Connect account with its apps' reviews; a context manager."""

    def __init__(
        self,
        public_key: ec.EllipticCurvePublicKey,
        *,
        clock: Callable[[], float] | None = None,
        key_id: str = KEY_ID,
        issuer_id: str = ISSUER_ID,
        apps: dict[str, str] | None = None,
        token_clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.public_key = public_key
        self._clock = clock or time.time
        self.token_clock = token_clock
        """Apple's clock, that tokens are checked against; default: the one dating reviews."""
        self.key_id = key_id
        self.issuer_id = issuer_id
        self.apps = apps if apps is not None else {APP_ID: "Acme Shop"}
        self.reviews: dict[str, list[dict[str, Any]]] = {app: [] for app in self.apps}
        self.refusals: list[str] = []
        """Why each refused token was refused."""
        self.tokens: list[str] = []
        """Every token accepted, in order."""
        self.remaining = HOUR_LIMIT
        self._seq = itertools.count(1)
        self._cursor_epoch = 0

    def stale_cursors(self) -> None:
        """Every ``links.next`` handed out so far is refused from now on (400)."""
        with self._lock:
            self._cursor_epoch += 1

    def use_system_clock(self) -> None:
        with self._lock:
            self._clock = time.time

    # -- content --------------------------------------------------------------------------

    def review(
        self,
        app_id: str = APP_ID,
        title: str = "",
        body: str = "",
        *,
        rating: int = 1,
        territory: str = "USA",
        nickname: str = "dana",
        created: float | None = None,
    ) -> dict[str, Any]:
        """A review of `app_id`; its JSON:API resource."""
        with self._lock:
            seq = next(self._seq)
            stamp = self._clock() if created is None else created
            resource = {
                "type": "customerReviews",
                "id": f"00000028-b08c-0014-729e-{seq:012x}",
                "attributes": {
                    "rating": rating,
                    "title": title,
                    "body": body,
                    "reviewerNickname": nickname,
                    "createdDate": iso(stamp),
                    "territory": territory,
                },
                "relationships": {
                    "response": {
                        "links": {
                            "self": f"{self.base_url}/v1/customerReviews/{seq}/relationships/"
                            "response"
                        }
                    }
                },
                "links": {"self": f"{self.base_url}/v1/customerReviews/{seq}"},
                "_order": (stamp, seq),
            }
            self.reviews[app_id].append(resource)
            return resource

    def review_many(
        self, count: int, text: str = "acme broke {n}", app_id: str = APP_ID, **kwargs: Any
    ) -> list[str]:
        """`count` one-star reviews (``{n}`` numbered in the body), oldest first; their ids."""
        return [
            self.review(app_id, f"Review {n}", text.format(n=n), **kwargs)["id"]
            for n in range(count)
        ]

    # -- the API --------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        refusal = self._check_token(request.token)
        if refusal is not None:
            with self._lock:
                self.refusals.append(refusal)
            return self.error_response(request, Fault.status(401))
        return super().dispatch(request)

    def _check_token(self, token: str | None) -> str | None:
        """Apple's checks of the bearer token; the reason it is refused, or None."""
        if not token:
            return "no bearer token"
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "ES256":
                return f"alg {header.get('alg')}"
            if header.get("kid") != self.key_id:
                return f"unknown kid {header.get('kid')}"
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["ES256"],
                audience="appstoreconnect-v1",
                issuer=self.issuer_id,
                # exp is checked below on the fake's clock (PyJWT would use the system's)
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat"]},
            )
        except jwt.InvalidSignatureError:
            return "bad signature"
        except jwt.InvalidAudienceError:
            return "wrong aud"
        except jwt.InvalidIssuerError:
            return "wrong iss"
        except jwt.PyJWTError as err:
            return f"unreadable token: {type(err).__name__}"
        now = (self.token_clock or self._clock)()
        if claims["exp"] <= now:
            return "expired"
        if claims["exp"] - now > MAX_TOKEN_SECONDS:
            return "exp more than 20 minutes ahead"
        with self._lock:
            self.tokens.append(token)
        return None

    def headers_for(self, request: Request) -> dict[str, str]:
        self.remaining = max(0, self.remaining - 1)
        return {"X-Rate-Limit": f"user-hour-lim:{HOUR_LIMIT};user-hour-rem:{self.remaining};"}

    def error_response(self, request: Request, fault: Fault) -> Response:
        code, title = _TITLES.get(fault.code, ("UNEXPECTED_ERROR", "An unexpected error occurred."))
        body = {
            "errors": [
                {
                    "id": "b3cf5d4c-0000-4000-8000-000000000000",
                    "status": str(fault.code),
                    "code": fault.error or code,
                    "title": title,
                    "detail": "Provide a properly configured and signed bearer token, and make "
                    "sure that it has not expired."
                    if fault.code == 401
                    else title,
                }
            ]
        }
        headers = {"Retry-After": f"{fault.retry_after:.0f}"} if fault.retry_after else {}
        return Response(fault.code, body, headers)

    @route("GET", r"/v1/apps/(?P<app_id>\d+)")
    def app(self, request: Request, app_id: str) -> Response:
        if app_id not in self.apps:
            return self.error_response(request, Fault.status(404))
        attributes = {"name": self.apps[app_id], "bundleId": f"com.acme.{app_id}"}
        return Response(200, {"data": {"type": "apps", "id": app_id, "attributes": attributes}})

    @route("GET", r"/v1/apps/(?P<app_id>\d+)/customerReviews")
    def customer_reviews(self, request: Request, app_id: str) -> Response:
        if app_id not in self.apps:
            return self.error_response(request, Fault.status(404))
        query = dict(request.query)
        offset = 0
        if "cursor" in query:
            try:
                state = json.loads(base64.urlsafe_b64decode(query["cursor"] + "=="))
                offset, query = int(state["o"]), {**state["q"], "limit": query.get("limit", "")}
                if state["e"] != self._cursor_epoch:
                    raise ValueError("stale")
            except (ValueError, KeyError, TypeError):
                return self.error_response(request, Fault.status(400))
        limit = min(int(query.get("limit") or 50), 200)
        with self._lock:
            chosen = list(self.reviews[app_id])
        ratings = query.get("filter[rating]")
        if ratings:
            wanted = {int(r) for r in ratings.split(",")}
            chosen = [r for r in chosen if r["attributes"]["rating"] in wanted]
        territories = query.get("filter[territory]")
        if territories:
            codes = set(territories.split(","))
            chosen = [r for r in chosen if r["attributes"]["territory"] in codes]
        sort = query.get("sort", "createdDate")
        chosen.sort(key=lambda r: r["_order"], reverse=sort == "-createdDate")
        page = chosen[offset : offset + limit]
        path = f"{self.base_url}/v1/apps/{app_id}/customerReviews"
        links: dict[str, str] = {"self": path}
        if offset + limit < len(chosen):
            kept = {k: v for k, v in query.items() if k not in ("cursor", "limit")}
            token = json.dumps({"o": offset + limit, "q": kept, "e": self._cursor_epoch}).encode()
            cursor = base64.urlsafe_b64encode(token).decode().rstrip("=")
            links["next"] = f"{path}?cursor={cursor}&limit={limit}"
        data = [{k: v for k, v in r.items() if k != "_order"} for r in page]
        meta = {"paging": {"total": len(chosen), "limit": limit}}
        return Response(200, {"data": data, "links": links, "meta": meta})


__all__ = ["APP_ID", "ISSUER_ID", "KEY_ID", "FakeAppStore", "iso", "new_key"]
