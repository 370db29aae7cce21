"""The case list is computed once for all consoles asking the same question,
and never hides a write this instance has committed (read-your-writes)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from gateway.list_cache import ListCache
from tests.gateway.support import api_client, make_user, site_config, wait_for

NO_BROKER = SimpleNamespace(host="127.0.0.1", port=1)


class Gen:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        return self.n


def test_one_computation_for_concurrent_identical_questions():
    gen = Gen()
    cache = ListCache(60, gen)
    gate, started = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> bytes:
        calls.append(1)
        started.set()
        gate.wait(30)
        return b"[1]"

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(cache.get, "q", slow)
        assert started.wait(10)
        others = [pool.submit(cache.get, "q", slow) for _ in range(7)]
        wait_for(lambda: all(not f.done() for f in others))
        gate.set()
        assert {f.result(10) for f in [first, *others]} == {b"[1]"}
    assert len(calls) == 1 and cache.computed == 1 and cache.served == 8
    assert cache.get("other question", lambda: b"[2]") == b"[2]"
    assert cache.computed == 2


def test_a_commit_makes_the_next_read_recompute():
    gen = Gen()
    cache = ListCache(60, gen)
    assert cache.get("q", lambda: b"old") == b"old"
    assert cache.get("q", lambda: b"never") == b"old"
    gen.n += 1  # this process committed a write
    assert cache.get("q", lambda: b"new") == b"new"


def test_a_computation_begun_before_a_commit_is_not_joined_after_it():
    gen = Gen()
    cache = ListCache(60, gen)
    gate, started = threading.Event(), threading.Event()

    def before_commit() -> bytes:
        started.set()
        gate.wait(30)
        return b"before"

    with ThreadPoolExecutor(2) as pool:
        stale = pool.submit(cache.get, "q", before_commit)
        assert started.wait(10)
        gen.n += 1  # a write committed while that query ran
        assert cache.get("q", lambda: b"after") == b"after"  # not the one in flight
        gate.set()
        assert stale.result(10) == b"before"
    assert cache.get("q", lambda: b"never") == b"after"  # the older result did not replace it


def test_entries_expire_and_failures_are_not_kept():
    gen = Gen()
    cache = ListCache(0.05, gen)
    assert cache.get("q", lambda: b"1") == b"1"
    wait_for(lambda: cache.get("q", lambda: b"2") == b"2", timeout=5)

    def boom() -> bytes:
        raise RuntimeError("db down")

    gen.n += 1
    try:
        cache.get("q", boom)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failure must reach the caller")
    assert cache.get("q", lambda: b"3") == b"3"
    off = ListCache(0, gen)
    assert off.get("q", lambda: b"a") == b"a" and off.get("q", lambda: b"b") == b"b"


def test_consoles_share_one_list_and_see_their_own_writes(tmp_path, db_url, start_gateway):
    cfg = site_config(tmp_path, NO_BROKER, db_url=db_url)
    cfg.gateway.list_cache_s = 300  # only a write (or a different question) recomputes
    gw = start_gateway(cfg, mqtt=False)
    tok = make_user(gw.db, "op", "operator")
    opd_tok = make_user(gw.db, "dk", "opd", opd="damkar")
    lists = gw.app.state.gw.lists
    with api_client(gw.url, tok) as api, ThreadPoolExecutor(8) as pool:
        first = api.get("/api/incidents", params={"limit": 200})
        assert first.status_code == 200 and first.json()["items"] == []
        before = lists.computed
        pages = list(pool.map(lambda _i: api.get("/api/incidents", params={"limit": 200}).json(), range(20)))
        assert all(p == first.json() for p in pages)
        assert lists.computed == before  # twenty consoles, no query
        made = api.post("/api/incidents", json={
            "category": "fire", "description": "Rumah terbakar", "caller": "+6281234567890"})
        assert made.status_code == 201, made.text
        # at once, not after the cache's age: the write moved the generation
        ids = [i["id"] for i in api.get("/api/incidents", params={"limit": 200}).json()["items"]]
        assert made.json()["id"] in ids
    with api_client(gw.url, opd_tok) as opd_api:
        # the OPD's question is its own: it never gets the operator's list
        items = opd_api.get("/api/incidents", params={"limit": 200}).json()["items"]
        assert all(any(a["opd"] == "damkar" for a in i["assignments"]) for i in items)
        assert all("triage" not in i["allowed_actions"] for i in items)



def test_answers_are_counted_as_queried_or_shared():
    gen = Gen()
    answers: list[bool] = []
    cache = ListCache(60, gen, on_answer=answers.append)
    cache.get("q", lambda: b"1")
    cache.get("q", lambda: b"never")
    gen.n += 1
    cache.get("q", lambda: b"2")
    assert answers == [True, False, True]
