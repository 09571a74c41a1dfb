"""A producer and a consumer thread exchanging time and randomness through a queue."""
import os
import queue
import threading
import time

q: queue.Queue = queue.Queue()


def producer() -> None:
    for i in range(8):
        q.put((i, time.time_ns() % 1000000, os.urandom(2).hex(), threading.get_native_id()))
        time.sleep(0.001)
    q.put(None)


def consumer() -> None:
    while (item := q.get()) is not None:
        print("got", item, flush=True)


threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
for t in threads:
    t.start()
for t in threads:
    t.join()
