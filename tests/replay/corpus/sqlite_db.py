"""sqlite: a fresh database filled with random rows and the time, then queried."""
import os
import sqlite3
import sys
import tempfile
import time

path = os.path.join(tempfile.mkdtemp(), "t.db")
db = sqlite3.connect(path)
db.execute("create table t (k text, v real)")
for _i in range(20):
    db.execute("insert into t values (?, ?)", (os.urandom(3).hex(), time.time()))
db.commit()
rows = db.execute("select k, v from t order by k limit 3").fetchall()
print(rows, db.execute("select count(*) from t").fetchone(), file=sys.stdout)
db.close()
