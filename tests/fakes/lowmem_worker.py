"""`python -m tests.fakes.lowmem_worker`: the real worker, its ffmpeg children capped at
TEST_MEMORY_LIMIT_MB of address space instead of jobs.runner.MEMORY_LIMIT_BYTES (tests only)."""

from __future__ import annotations

import os
import sys

from jobs import runner, worker

if __name__ == "__main__":
    runner.MEMORY_LIMIT_BYTES = int(os.environ["TEST_MEMORY_LIMIT_MB"]) * 1024 * 1024
    sys.exit(worker.main())
