"""A work horse forked while the worker waits for a job, so the job does not wait for the fork.

RQ forks the work horse once it has the job: the fork of the worker and the new process's start
took ~3 ms of every job. So the worker forks the next job's horse while it waits (as it starts
the spare ffprobe runs, jobs.spare): the standby puts itself in its own process group, ties its
life to the worker's and blocks reading a pipe. When a job comes the worker writes its id, the
execution's id and start and the queue's key; the standby fetches the job and runs it exactly as a
freshly forked horse would (GifWorker.main_work_horse), and the worker watches it as its horse.

Unless Redis is behind Sentinel, it also opens its Redis connection while it waits (a new one
took a horse ~2.5 ms: connect, a health-check PING, HELLO). That connection is used only if it is
at most FRESH_S old when the job comes (as under load, when jobs come back to back); an older one
is dropped and the horse connects anew, as a forked one does. Behind Sentinel the horse always
connects when the job comes, asking the Sentinels for the master they name then. (A connection
the server closed is replaced by redis-py when it is taken; one that fails anyway, once more.)

A standby that died while it waited is reaped and the job gets a freshly forked horse; one that
dies after it took the job is a horse that died. The work loop's end kills it (close()), and so
does the worker's death (the parent-death signal).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from redis.sentinel import SentinelConnectionPool
from rq.executions import Execution

from core import telegram
from core.connection import REDIS_DOWN
from jobs import lifeline

if TYPE_CHECKING:
    from rq import Queue
    from rq.job import Job

log = logging.getLogger(__name__)
FRESH_S = 3.0  # a standby's Redis connection at most this old is used for its job


@dataclass(frozen=True)
class Standby:
    """A forked horse waiting for its job: its pid, the pipe's write end, the worker it serves."""

    pid: int
    pipe: int
    owner: int  # id() of the worker object that forked it


_standby: Standby | None = None


def start(worker: Any) -> None:
    """In the worker, while it waits for a job: fork a standby horse unless one waits already."""
    global _standby
    if _standby is not None:
        if _standby.owner == id(worker) and _alive(_standby.pid):
            return
        close()
    read, write = os.pipe()
    worker.parent_pid = os.getpid()
    telegram.drop_connections()  # none of our Bot API connections may be shared with a horse
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child leaves through os._exit)
        os.close(write)
        _serve(worker, read)
    os.close(read)
    _standby = Standby(pid, write, id(worker))


def hand_over(worker: Any, job: Job, queue: Queue) -> bool:
    """In the worker, instead of RQ's fork: give `job` to the standby; False if there is none
    (or it died), and the caller forks a horse as usual."""
    global _standby
    waiting, _standby = _standby, None
    if waiting is None:
        return False
    if waiting.owner != id(worker) or not _alive(waiting.pid):
        _end(waiting)
        return False
    execution = worker.execution
    message = {
        "job": job.id,
        "execution": execution.id,
        "created": execution.created_at.isoformat(),
        "queue": queue.key,
    }
    try:
        os.write(waiting.pipe, json.dumps(message).encode() + b"\n")
    except OSError:  # it died since we looked
        _end(waiting)
        return False
    os.close(waiting.pipe)
    os.environ["RQ_WORKER_ID"] = worker.name
    os.environ["RQ_JOB_ID"] = job.id
    worker._horse_pid = waiting.pid
    worker.procline(f"Handed {job.id} to {waiting.pid} at {time.time()}")
    return True


def close() -> None:
    """In the worker: end the standby, if any (it holds no job)."""
    global _standby
    waiting, _standby = _standby, None
    if waiting is not None:
        _end(waiting)


def _end(waiting: Standby) -> None:
    """Close a standby's pipe; kill and reap it if it still runs (one reaped already is not
    signalled: its pid may be another process's by now)."""
    with contextlib.suppress(OSError):
        os.close(waiting.pipe)
    if _alive(waiting.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(waiting.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(waiting.pid, 0)


def _alive(pid: int) -> bool:
    """Whether our child `pid` still runs (one that ended is reaped here)."""
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def _serve(worker: Any, read: int) -> None:  # pragma: no cover (runs in the forked child)
    """In the standby: wait for a job on the pipe and run it as RQ's horse; never returns."""
    code = 1
    try:
        os.setpgrp()  # as RQ's horse: the worker's process group may be signalled without it
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        lifeline.die_with_parent(worker.parent_pid)
        pool = worker.connection.connection_pool
        early = not isinstance(pool, SentinelConnectionPool)  # there: ask the Sentinels when the job comes
        connected = time.monotonic()
        if early:
            with contextlib.suppress(*REDIS_DOWN):
                worker.connection.ping()
        with os.fdopen(read, "rb") as pipe:
            line = pipe.readline()
        if line:
            if early and time.monotonic() - connected > FRESH_S:
                pool.disconnect()
            job, queue = _job_of(worker, json.loads(line))
            worker.main_work_horse(job, queue)  # leaves through os._exit
        code = 0
    except BaseException:
        log.exception("a standby work horse failed before its job ran")
    finally:
        os._exit(code)


def _job_of(worker: Any, message: dict[str, str]) -> tuple[Job, Queue]:  # pragma: no cover
    """The job, its queue and its execution, as RQ's worker had them when it would have forked."""
    job_id = message["job"]
    os.environ["RQ_WORKER_ID"] = worker.name
    os.environ["RQ_JOB_ID"] = job_id
    queue = worker.queue_class.from_queue_key(
        message["queue"],
        connection=worker.connection,
        job_class=worker.job_class,
        serializer=worker.serializer,
        death_penalty_class=worker.death_penalty_class,
    )
    try:
        job = worker.job_class.fetch(job_id, connection=worker.connection, serializer=worker.serializer)
    except REDIS_DOWN:  # its connection failed (a restart, a failover): once more on a new one
        worker.connection.connection_pool.disconnect()
        job = worker.job_class.fetch(job_id, connection=worker.connection, serializer=worker.serializer)
    job.redis_server_version = worker.get_redis_server_version()
    execution = Execution(message["execution"], job_id, worker.connection, worker_name=worker.name)
    execution.created_at = execution.last_heartbeat = datetime.fromisoformat(message["created"])
    execution._job = job
    worker.executions.clear()
    worker.executions[execution.id] = execution
    return job, queue
