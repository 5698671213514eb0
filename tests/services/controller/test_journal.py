"""The controller's in-flight journal (``services/controller/journal.py``) on a real file system: what a
controller that died leaves behind is exactly the copies it had taken and not handed on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from common.task import Task
from services.controller.journal import InflightJournal
from tests.services.controller.test_controller import FORK_JOIN, make_task

pytestmark = pytest.mark.unit


def ids(tasks: list[Task]) -> list[int]:
    return sorted(t.task_id for t in tasks)


def test_the_next_process_finds_the_copies_not_crossed_out_and_the_journal_starts_empty(tmp_path: Path) -> None:
    journal = InflightJournal(tmp_path / "j")
    keys = [journal.add(make_task(FORK_JOIN, task_id=i)) for i in range(5)]
    journal.remove(keys[1])
    journal.remove(keys[3])
    journal.remove(keys[3])  # twice: the second is nothing
    journal.close()
    again = InflightJournal(tmp_path / "j")
    assert ids(again.left_over()) == [0, 2, 4]
    assert not again.path.exists()
    assert InflightJournal(tmp_path / "j").left_over() == []


def test_a_torn_last_line_and_a_damaged_entry_are_skipped_the_rest_kept(tmp_path: Path) -> None:
    journal = InflightJournal(tmp_path)
    journal.add(make_task(FORK_JOIN, task_id=1))
    journal.close()
    with journal.path.open("ab") as f:
        f.write(b"+broken-key {not json}\n")
        f.write(b'+torn-key {"task_id": 2, "sour')  # the machine went down mid-write
    assert ids(InflightJournal(tmp_path).left_over()) == [1]


def test_the_file_is_cut_back_to_what_is_in_flight(tmp_path: Path) -> None:
    journal = InflightJournal(tmp_path, compact_bytes=20_000)
    kept = [journal.add(make_task(FORK_JOIN, task_id=i)) for i in range(3)]
    assert all(kept)
    for i in range(3, 300):  # a long run with three copies always in flight
        journal.remove(journal.add(make_task(FORK_JOIN, task_id=i)))
    assert journal.path.stat().st_size < 20_000 + 5_000
    journal.close()
    assert ids(InflightJournal(tmp_path).left_over()) == [0, 1, 2]


def test_one_file_per_copy_from_an_earlier_version_is_read_too(tmp_path: Path) -> None:
    task = make_task(FORK_JOIN, task_id=9)
    (tmp_path / f"{task.task_uuid}-{task.cursor}.json").write_text(task.to_json())
    (tmp_path / "half-written.tmp").write_text("{")
    assert ids(InflightJournal(tmp_path).left_over()) == [9]
    assert list(tmp_path.iterdir()) == []


def test_a_journal_that_cannot_be_written_protects_less_and_recovers(tmp_path: Path) -> None:
    blocked = tmp_path / "j"
    blocked.write_text("a file where the directory should be")
    journal = InflightJournal(blocked)
    assert journal.add(make_task(FORK_JOIN, task_id=1)) is None
    journal.remove(None)
    blocked.unlink()
    assert journal.add(make_task(FORK_JOIN, task_id=2)) is not None
    journal.close()
    assert ids(InflightJournal(blocked).left_over()) == [2]


def test_copies_of_a_process_killed_with_sigkill_are_found(tmp_path: Path) -> None:
    # A real process takes copies, crosses some out, and is killed mid-run: what it wrote is in the page cache.
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})
        from services.controller.journal import InflightJournal
        from tests.services.controller.test_controller import FORK_JOIN, make_task
        from pathlib import Path
        journal = InflightJournal(Path({str(tmp_path)!r}))
        keys = [journal.add(make_task(FORK_JOIN, task_id=i)) for i in range(10)]
        for key in keys[::2]:
            journal.remove(key)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert ids(InflightJournal(tmp_path).left_over()) == [1, 3, 5, 7, 9]


def test_many_copies_in_flight_do_not_rewrite_the_file_at_every_removal(tmp_path: Path) -> None:
    journal = InflightJournal(tmp_path, compact_bytes=1_000)  # smaller than the copies in flight alone
    held = [journal.add(make_task(FORK_JOIN, task_id=i)) for i in range(20)]
    taken = lambda: journal.path.read_bytes().count(b"\n+") + journal.path.read_bytes().startswith(b"+")  # noqa: E731
    journal.remove(held.pop())  # the file is past compact_bytes, but almost all of it is still in flight
    assert taken() == 20  # not rewritten
    for key in held[:15]:
        journal.remove(key)
    assert taken() < 20  # most of it crossed out: cut back to what is in flight
    journal.close()
    assert ids(InflightJournal(tmp_path).left_over()) == [15, 16, 17, 18]


def test_a_received_body_is_written_as_it_came_and_one_with_a_line_break_afresh(tmp_path: Path) -> None:
    journal = InflightJournal(tmp_path)
    as_sent = make_task(FORK_JOIN, task_id=1)
    body = as_sent.to_json().encode().replace(b'"task_id":', b'"task_id" :')
    journal.add(as_sent, body)
    pretty = make_task(FORK_JOIN, task_id=2)
    journal.add(pretty, pretty.to_json().replace(",", ",\n").encode())
    journal.close()
    lines = journal.path.read_bytes().split(b"\n")[:-1]
    assert lines[0] == b"+" + InflightJournal.key(as_sent).encode() + b" " + body
    assert lines[1] == b"+" + InflightJournal.key(pretty).encode() + b" " + pretty.to_json().encode()
    assert InflightJournal(tmp_path).left_over() == [as_sent, pretty]
