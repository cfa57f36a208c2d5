"""The sqlite critique cache shared by concurrent writers (the ranks of a DDP run): WAL mode, no lost rows."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

from lit_critic_rl.critic.cache import CritiqueCache


def write_many(path: str, writer: int, rounds: int) -> None:
    cache = CritiqueCache(path)
    for i in range(rounds):
        # each writer's own keys, plus keys both writers write at the same time (same text critiqued on two ranks)
        cache.put_many({f"w{writer}-{i}": f"raw {writer} {i}", f"shared-{i}": f"raw shared {i} from {writer}"})
        assert len(cache.get_many([f"w{writer}-{j}" for j in range(i + 1)])) == i + 1
    cache.close()


def test_two_writer_processes_lose_no_rows(tmp_path):
    path = str(tmp_path / "cache.sqlite")
    CritiqueCache(path).close()
    ctx = mp.get_context("spawn")
    writers = [ctx.Process(target=write_many, args=(path, w, 300)) for w in (0, 1)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(timeout=120)
    assert [p.exitcode for p in writers] == [0, 0]
    cache = CritiqueCache(path)
    assert len(cache) == 3 * 300
    shared = cache.get_many([f"shared-{i}" for i in range(300)])
    assert all(v.startswith(f"raw shared {i} from ") for i, v in enumerate(shared[f"shared-{i}"] for i in range(300)))
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_first_answer_stored_for_a_key_wins(tmp_path):
    cache = CritiqueCache(tmp_path / "c.sqlite")
    cache.put_many({"k": "first"})
    cache.put_many({"k": "second"})
    assert cache.get_many(["k"]) == {"k": "first"}


def open_new_file_at_once(path: str, barrier, writer: int, results) -> None:
    barrier.wait()  # every process opens the not-yet-existing file in the same instant, as DDP ranks do at step 1
    try:
        CritiqueCache(path).put_many({f"w{writer}": "raw"})
        results.put("ok")
    except sqlite3.OperationalError as error:
        results.put(str(error))


def test_processes_that_create_the_file_at_the_same_moment_all_open_it(tmp_path):
    """Before the retry, about one round in four had a process fail with 'database is locked' on the WAL switch."""
    ctx = mp.get_context("fork")  # cheap processes, so the rounds race in earnest
    for round_ in range(15):
        path = str(tmp_path / f"cache{round_}.sqlite")
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=open_new_file_at_once, args=(path, barrier, w, results)) for w in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
        assert [results.get(timeout=5) for _ in procs] == ["ok"] * 4, round_
        assert len(CritiqueCache(path)) == 4
