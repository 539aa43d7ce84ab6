"""The fake-server base (tests/fakes/server.py), spoken to by a real HTTP client over a socket:
routes, the request log, and each kind of scripted fault."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.fakes.server import FakeServer, Fault, Request, Response, route


class Shop(FakeServer):
    """A tiny platform: items are stored by POST, so a test can see whether a call took effect."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: list[str] = []

    @route("GET|POST", r"/items/(?P<item>\w+)")
    def _item(self, request: Request, item: str) -> Response:
        if request.method == "POST":
            self.stored.append(item)
        return Response(200, {"item": item, "query": request.query, "body": request.body})

    def headers_for(self, request: Request) -> dict[str, str]:
        return {"x-shop-remaining": "9"}

    def error_response(self, request: Request, fault: Fault) -> Response:
        headers = {} if fault.retry_after is None else {"x-shop-reset": str(fault.retry_after)}
        return Response(fault.code, {"shop_error": fault.error or fault.code}, headers)


@pytest.fixture
def shop() -> Iterator[Shop]:
    with Shop() as server:
        yield server


def get(shop: Shop, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(shop.base_url + path, timeout=5, **kwargs)


def test_routes_get_a_parsed_request_and_the_log_keeps_it_with_its_status(shop: Shop) -> None:
    plain = get(shop, "/items/a?colour=red", headers={"Authorization": "Bearer t0k"})
    as_json = requests.post(shop.base_url + "/items/b", json={"n": 1}, timeout=5)
    as_form = requests.post(shop.base_url + "/items/c/", data={"n": "2"}, timeout=5)
    missing = get(shop, "/nowhere")

    assert plain.json() == {"item": "a", "query": {"colour": "red"}, "body": None}
    assert plain.headers["x-shop-remaining"] == "9"
    assert as_json.json()["body"] == {"n": 1}
    assert as_form.json()["body"] == {"n": "2"}
    assert missing.status_code == 404 and missing.json() == {"shop_error": 404}
    first = shop.requests[0]
    assert (first.method, first.path, first.token, first.params) == (
        "GET",
        "/items/a",
        "t0k",
        {"colour": "red"},
    )
    assert first.headers["authorization"] == "Bearer t0k"  # names lower-cased
    assert shop.paths() == ["/items/a", "/items/b", "/items/c", "/nowhere"]
    assert [r.status for r in shop.requests] == [200, 200, 200, 404]
    assert shop.paths("^/items/") == ["/items/a", "/items/b", "/items/c"]
    assert shop.stored == ["b", "c"]


def test_a_status_fault_answers_the_platform_error_with_extra_headers_and_no_effect(
    shop: Shop,
) -> None:
    shop.fault(Fault.status(503, error="down", headers={"X-Why": "test"}))
    refused = requests.post(shop.base_url + "/items/a", timeout=5)
    assert refused.status_code == 503
    assert refused.json() == {"shop_error": "down"}
    assert refused.headers["x-why"] == "test"
    assert refused.headers["x-shop-remaining"] == "9"  # headers every answer carries
    assert shop.stored == []

    shop.fault(Fault.status(502, body=b"<html>bad gateway</html>"))
    assert get(shop, "/items/a").text == "<html>bad gateway</html>"
    assert get(shop, "/items/a").status_code == 200  # used up


def test_rate_limited_uses_the_platforms_headers(shop: Shop) -> None:
    shop.fault(Fault.rate_limited(30))
    limited = get(shop, "/items/a")
    assert limited.status_code == 429
    assert limited.headers["x-shop-reset"] == "30"
    assert shop.requests[-1].status == 429


def test_slow_answers_late_and_a_client_timeout_fires(shop: Shop) -> None:
    shop.fault(Fault.slow(0.4), times=2)
    with pytest.raises(requests.ReadTimeout):
        requests.get(shop.base_url + "/items/a", timeout=0.1)
    started = time.monotonic()
    assert get(shop, "/items/a").json()["item"] == "a"
    assert time.monotonic() - started >= 0.4


@pytest.mark.parametrize(
    ("fault", "text"),
    [
        (Fault.malformed(), '{"item": "a", "query'),  # cut in half
        (Fault.malformed(b"<html>proxy error</html>"), "<html>proxy error</html>"),
        (Fault.malformed(lambda body: body[:9]), '{"item": '),
    ],
    ids=["cut", "replaced", "changed"],
)
def test_malformed_changes_the_normal_answer(shop: Shop, fault: Fault, text: str) -> None:
    shop.fault(fault)
    answer = requests.post(shop.base_url + "/items/a", timeout=5)
    assert answer.status_code == 200
    assert answer.text == text
    with pytest.raises(requests.JSONDecodeError):
        answer.json()
    assert shop.stored == ["a"]  # the call took effect


def test_drop_closes_the_connection_unanswered_and_without_effect(shop: Shop) -> None:
    shop.fault(Fault.drop())
    with pytest.raises(requests.ConnectionError):
        requests.post(shop.base_url + "/items/a", timeout=5)
    assert shop.stored == []
    assert shop.requests[0].status == 0


def test_drop_after_takes_effect_then_closes_unanswered(shop: Shop) -> None:
    shop.fault(Fault.drop_after())
    with pytest.raises(requests.ConnectionError):
        requests.post(shop.base_url + "/items/a", timeout=5)
    assert shop.stored == ["a"]  # the outcome is unknown to the client, not to the server
    assert shop.requests[0].status == 0
    assert requests.post(shop.base_url + "/items/b", timeout=5).status_code == 200


def test_times_skip_and_match_choose_which_requests_fail(shop: Shop) -> None:
    shop.fault(Fault.status(500), match="^/items/a$", times=2, skip=1)
    shop.fault(Fault.status(404), match=lambda request: request.query.get("q") == "x")

    statuses = [get(shop, path).status_code for path in ["/items/a"] * 4 + ["/items/b"]]
    assert statuses == [200, 500, 500, 200, 200]
    assert get(shop, "/items/b", params={"q": "x"}).status_code == 404
    assert get(shop, "/items/b", params={"q": "x"}).status_code == 200


def test_the_log_is_complete_under_concurrent_requests(shop: Shop) -> None:
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: get(shop, f"/items/i{n}"), range(40)))
    assert all(a.status_code == 200 for a in answers)
    assert sorted(shop.paths()) == sorted(f"/items/i{n}" for n in range(40))


def test_close_is_fast_even_with_an_answer_held_back() -> None:
    shop = Shop().start()
    shop.fault(Fault.slow(30))
    caught: list[BaseException] = []

    def call() -> None:
        try:
            get(shop, "/items/a")
        except requests.RequestException as error:
            caught.append(error)

    waiting = threading.Thread(target=call)
    waiting.start()
    while not shop.requests:
        time.sleep(0.01)
    started = time.monotonic()
    shop.close()
    waiting.join(timeout=5)
    assert time.monotonic() - started < 2
    assert caught and isinstance(caught[0], requests.ConnectionError)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{shop.requests[0].headers['host'].split(':')[1]}/")
