"""An order violation: the reader assumes the writer thread initialised `config` first.

Natively the writer's 10 ms sleep always ends long before the reader's 300 ms one, so
the program prints the config; if the reader runs first it crashes.
"""
import threading
import time

config = None


def writer() -> None:
    global config
    time.sleep(0.01)
    config = {"timeout_ms": 750}


def reader() -> None:
    time.sleep(0.3)
    print("timeout", config["timeout_ms"], flush=True)


threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
for t in threads:
    t.start()
for t in threads:
    t.join()
