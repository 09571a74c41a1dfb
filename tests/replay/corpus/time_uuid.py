"""Time, uuid4, urandom, pid, an object address and a hash seed: all different natively."""
import os
import random
import time
import uuid

print(time.time(), time.monotonic(), uuid.uuid4(), os.urandom(4).hex(), os.getpid())
print(id(object()), hash("kprobe"), random.random())
