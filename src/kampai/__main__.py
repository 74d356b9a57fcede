"""``python -m kampai`` runs the ``runner`` CLI (and is what torchrun starts in each worker
of ``runner train --nproc-per-node N``)."""

import os

if os.environ.get("KAMPAI_DISTRIBUTED_WORKER") == "1":  # core.distributed.WORKER_ENV
    import signal  # imported only here: signal imports enum, a cost runner --help does not pay

    # a worker stopped by the launcher's agent (Ctrl-C) while it still imports: it ends
    # silently, not with a KeyboardInterrupt traceback per rank; worker() handles it later
    signal.signal(signal.SIGINT, signal.SIG_DFL)

from kampai.core.cli import main

if __name__ == "__main__":
    main()
