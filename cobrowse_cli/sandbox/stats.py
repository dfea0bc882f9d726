"""`GET /_sandbox/stats`: request counts, and the end counts per session the reliability tests trust."""

from __future__ import annotations

from collections import Counter


def stats(store) -> dict:
    by_method: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    rows = []
    for (method, path, status), n in sorted(store.requests.items(), key=lambda kv: (kv[0][1], kv[0][0], str(kv[0][2]))):
        by_method[method] += n
        by_status[str(status)] += n
        rows.append({"method": method, "path": path, "status": status, "count": n})
    return {
        "requests": {"total": sum(by_method.values()), "by_method": dict(by_method), "by_status": dict(by_status), "by_route": rows},
        "ends": {
            "total": sum(store.end_counts.values()),
            "by_reason": dict(store.end_reasons),
            "by_session": dict(store.end_counts),
            "max_per_session": max(store.end_counts.values(), default=0),
        },
        "sessions": {st: len(pool) for st, pool in store.by_state.items()},
        "devices": len(store.devices),
        "agents": len(store.agents),
    }
