"""Typed parsing of INFO, CLIENT LIST, SLOWLOG, LATENCY, MEMORY STATS, PUBSUB and XINFO."""

from __future__ import annotations

from typing import Any

from redis_fintech_sdk.errors import ResponseError
from redis_fintech_sdk.observability import (
    INFO_SECTIONS,
    ServerInfo,
    analyze_slowlog,
    parse_client_list,
    parse_info_text,
    parse_latency_latest,
    parse_memory_stats,
    parse_slowlog,
    parse_stream_groups,
    snapshot_steps,
)

INFO = b"""# Server\r
redis_version:7.2.4\r
redis_mode:standalone\r
uptime_in_seconds:42\r
\r
# Clients\r
connected_clients:3\r
blocked_clients:1\r
\r
# Memory\r
used_memory:900\r
maxmemory:1000\r
maxmemory_policy:noeviction\r
mem_fragmentation_ratio:1.25\r
\r
# Persistence\r
aof_enabled:1\r
aof_last_write_status:ok\r
rdb_last_bgsave_status:err\r
\r
# Stats\r
evicted_keys:7\r
pubsub_channels:2\r
\r
# Replication\r
role:master\r
\r
# Commandstats\r
cmdstat_publish:calls=10,usec=50,usec_per_call=5.00,rejected_calls=1,failed_calls=0\r
cmdstat_client|list:calls=1,usec=9,usec_per_call=9.00,rejected_calls=0,failed_calls=0\r
\r
# Errorstats\r
errorstat_NOPERM:count=4\r
\r
# Keyspace\r
db0:keys=5,expires=1,avg_ttl=100\r
db3:keys=2,expires=0,avg_ttl=0\r
"""


def test_info_text_is_parsed_by_section() -> None:
    sections = parse_info_text(INFO)
    assert set(sections) == {
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "commandstats",
        "errorstats",
        "keyspace",
    }
    info = ServerInfo.from_text(INFO)
    assert info.version_tuple == (7, 2, 4)
    assert info.role == "master"
    assert info.mode == "standalone"
    assert info.connected_clients == 3
    assert info.blocked_clients == 1
    assert info.memory_usage_ratio == 0.9
    assert info.fragmentation_ratio == 1.25
    assert info.aof_enabled
    assert info.aof_last_write_ok
    assert not info.rdb_last_bgsave_ok
    assert info.evicted_keys == 7
    assert info.pubsub_channels == 2
    assert info.total_keys == 7
    assert info.keyspace[3].keys == 2
    assert info.command_stats["publish"].calls == 10
    assert info.command_stats["publish"].rejected_calls == 1
    assert "client|list" in info.command_stats
    assert info.error_stats == {"NOPERM": 4}
    assert info.section("Memory")["maxmemory"] == 1000
    assert info.flat()["uptime_in_seconds"] == 42
    assert ServerInfo().maxmemory == 0
    assert ServerInfo().memory_usage_ratio is None


def test_client_list() -> None:
    raw = (
        b"id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name=feed age=10 idle=2 flags=P "
        b"db=0 sub=2 psub=1 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 obl=0 oll=3 "
        b"omem=4096 tot-mem=22000 events=rw cmd=subscribe user=reader resp=2\n"
        b"id=4 addr=127.0.0.1:5001 fd=9 name= age=1 idle=0 flags=N db=0 sub=0 psub=0 "
        b"omem=0 tot-mem=1000 cmd=client|list user=default\n"
    )
    clients = parse_client_list(raw)
    assert [c.id for c in clients] == [3, 4]
    feed = clients[0]
    assert feed.is_pubsub
    assert feed.subscriptions == 3
    assert feed.omem == 4096
    assert feed.user == "reader"
    assert feed.tot_mem == 22000
    assert feed.fields["oll"] == "3"
    assert not clients[1].is_pubsub
    as_dicts = parse_client_list([{"id": "3", "flags": "P", "sub": "1"}])
    assert as_dicts[0].is_pubsub


def test_slowlog_keeps_no_arguments_and_ranks() -> None:
    raw: list[Any] = [
        [5, 1700000000, 250000, [b"KEYS", b"secret:*"], b"127.0.0.1:1", b"svc"],
        [4, 1700000000, 1000, [b"XINFO", b"GROUPS", b"orders"], b"127.0.0.1:1", b""],
        [3, 1700000000, 3000, [b"KEYS", b"x"], b"127.0.0.1:2", b""],
    ]
    entries = parse_slowlog(raw)
    assert [e.command for e in entries] == ["KEYS", "XINFO GROUPS", "KEYS"]
    assert entries[0].argc == 2
    assert entries[0].client_name == "svc"
    assert "secret" not in repr(entries)
    report = analyze_slowlog(entries, top=2)
    assert report.top_commands[0] == ("KEYS", 2, 253000, 250000)
    assert [e.id for e in report.worst] == [5, 3]
    dicts = parse_slowlog([{"id": 1, "start_time": 2, "duration": 3, "command": b"GET k"}])
    assert dicts[0].command == "GET"
    assert dicts[0].argc == 2


def test_latency_memory_and_groups() -> None:
    events = parse_latency_latest([[b"command", 1700000000, 120, 300]])
    assert events[0].event == "command"
    assert events[0].max_ms == 300
    memory = parse_memory_stats(
        [
            b"peak.allocated",
            100,
            b"db.0",
            [b"overhead.hashtable.main", 72],
            b"fragmentation",
            b"1.5",
            b"keys.count",
            3,
        ]
    )
    assert memory["db.0"] == {"overhead.hashtable.main": 72}
    assert memory["fragmentation"] == 1.5
    assert memory["keys.count"] == 3
    groups = parse_stream_groups(
        "orders",
        [
            [
                b"name",
                b"g1",
                b"consumers",
                2,
                b"pending",
                5,
                b"last-delivered-id",
                b"1-0",
                b"entries-read",
                3,
                b"lag",
                7,
            ],
            [
                b"name",
                b"g2",
                b"consumers",
                0,
                b"pending",
                0,
                b"last-delivered-id",
                b"0-0",
                b"lag",
                None,
            ],
        ],
    )
    assert groups[0].backlog == 12
    assert groups[0].last_delivered_id == "1-0"
    assert groups[1].lag is None
    assert groups[1].backlog == 0


def test_snapshot_steps_are_sans_io() -> None:
    replies: dict[tuple[Any, ...], Any] = {
        ("CLIENT", "LIST"): b"id=1 addr=a flags=P sub=1 omem=10 cmd=subscribe\n",
        ("SLOWLOG", "GET", 128): [],
        ("SLOWLOG", "LEN"): 0,
        ("LATENCY", "LATEST"): ResponseError("ERR unknown command"),
        ("MEMORY", "STATS"): [b"peak.allocated", 1],
        ("PUBSUB", "CHANNELS"): [b"market.price.AAPL"],
        ("PUBSUB", "NUMSUB", "market.price.AAPL"): [b"market.price.AAPL", 1],
        ("PUBSUB", "NUMPAT"): 0,
        ("PUBSUB", "SHARDCHANNELS"): [],
        ("XLEN", "orders"): 4,
        ("XINFO", "GROUPS", "orders"): [[b"name", b"g", b"consumers", 1, b"pending", 2, b"lag", 1]],
    }
    steps = snapshot_steps(streams=["orders"])
    sent: list[tuple[Any, ...]] = []
    reply: Any = None
    try:
        while True:
            command = steps.send(reply)
            sent.append(command)
            if command[0] == "INFO":
                reply = {"redis_version": "7.0.0"} if command[1] == "server" else {}
            else:
                reply = replies[command]
    except StopIteration as stop:
        snap = stop.value
    assert [c[1] for c in sent if c[0] == "INFO"] == list(INFO_SECTIONS)
    assert snap.pubsub.channels == {"market.price.AAPL": 1}
    assert snap.pubsub_output_buffer_bytes == 10
    assert snap.streams == {"orders": 4}
    assert snap.max_group_lag() == 3
    assert "latency latest" in snap.errors
    assert snap.latency == ()
