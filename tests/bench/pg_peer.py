#!/usr/bin/python3
"""The peer tests/bench/pg_bench.sh compares cdc-agent with (BENCH_ONLY=peer): the usual Python way
to put PostgreSQL changes into Kafka. wal2json (format-version 2: a JSON message per change) read
through psycopg2's logical replication, each change turned into a JSON record of its own (op,
schema, table, the row's columns by name) and produced with confluent-kafka (librdkafka) to TOPIC,
keyed by the row's first column; acks=all, lz4 and a 50 ms linger like the agent, but
at-least-once: no transactions and no offsets stored with the records. A measuring tool only.

    pg_peer.py DSN SLOT BOOTSTRAP TOPIC CHANGES

Stops after CHANGES changes, waits for every delivery, then prints
"changes=N seconds=S cpu_s=C" (from its start; CPU of the whole process, librdkafka's threads
included) and acknowledges the position to the slot.
"""
import json
import resource
import sys
import time

import psycopg2
import psycopg2.extras
from confluent_kafka import Producer

dsn, slot, bootstrap, topic, want = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
t0 = time.monotonic()
conn = psycopg2.connect(dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection)
cur = conn.cursor()
producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.type": "lz4",
                     "linger.ms": 50, "enable.idempotence": False})
failed = []


def delivered(err, _msg):
    if err is not None:
        failed.append(err)


class Done(Exception):
    pass


done = 0
last_lsn = 0


def change(msg):
    global done, last_lsn
    ch = json.loads(msg.payload)
    if ch.get("action") not in ("I", "U", "D"):
        return
    cols = ch.get("columns") or ch.get("identity") or []
    row = {c["name"]: c["value"] for c in cols}
    record = json.dumps({"op": ch["action"], "schema": ch["schema"], "table": ch["table"],
                         "after": row if ch["action"] != "D" else None}).encode()
    key = json.dumps(cols[0]["value"] if cols else None).encode()
    while True:
        try:
            producer.produce(topic, record, key, on_delivery=delivered)
            break
        except BufferError:  # the local queue is full: let deliveries drain it
            producer.poll(0.01)
    producer.poll(0)
    done += 1
    last_lsn = msg.data_start
    if done >= want:
        raise Done()


cur.start_replication(slot_name=slot, decode=True,
                      options={"format-version": "2", "include-transaction": "false"})
try:
    cur.consume_stream(change)
except Done:
    pass
producer.flush()
elapsed = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
cur.send_feedback(flush_lsn=last_lsn, force=True)
if failed:
    sys.exit(f"pg_peer: {len(failed)} deliveries failed: {failed[0]}")
print(f"changes={done} seconds={elapsed:.3f} cpu_s={ru.ru_utime + ru.ru_stime:.2f}")
