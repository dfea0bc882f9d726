"""Deterministic demo data: agents, devices and sessions in a realistic mix.

Same `seed` and same `anchor_ms` (the "now" the data is laid out around) give identical data.
On purpose, many sessions share the exact same `activated` millisecond (groups of 2-20), so a
client paging with `activated_before` must de-duplicate by id.

Agents: `agent@sandbox.test` (the default token sub; owns about 30% of sessions), `admin@sandbox.test`,
and four more (`alice@`, `bob@`, `carol@`, `dave@sandbox.test`). Roles come from tokens, not from here.
"""

from __future__ import annotations

import base64
import random
from dataclasses import asdict, dataclass

from cobrowse_cli.sandbox.model import CODE_VALIDITY_MS, Device, Session, session_json
from cobrowse_cli.sandbox.store import Store
from cobrowse_cli.sandbox.timeutil import iso, now_ms

DEFAULT_AGENT = "agent@sandbox.test"
AGENTS = [
    (DEFAULT_AGENT, "Sam Agent"),
    ("admin@sandbox.test", "Avery Admin"),
    ("alice@sandbox.test", "Alice Moreno"),
    ("bob@sandbox.test", "Bob Chen"),
    ("carol@sandbox.test", "Carol Singh"),
    ("dave@sandbox.test", "Dave Okafor"),
]
AGENT_WEIGHTS = [30, 10, 15, 15, 15, 15]
BUSY_ACTIVE = 6000
PLANS = ["free", "free", "pro", "pro", "pro", "business", "enterprise"]
REGIONS = ["us-east", "us-west", "eu-west", "eu-central", "apac"]
FIRST = ["ana", "ben", "chloe", "dev", "emma", "farid", "grace", "hugo", "isla", "jon", "kemi", "liam", "mia", "noah", "olga", "priya"]
DOMAINS = ["example.com", "mail.test", "acme.test", "shop.test"]
PLATFORMS = [
    {"platform": "ios", "device": "iPhone 15", "os_version": "17.4", "app_name": "Acme Shop", "sdk_version": "3.6.1"},
    {"platform": "android", "device": "Pixel 8", "os_version": "14", "app_name": "Acme Shop", "sdk_version": "3.4.0"},
    {"platform": "web", "device": "Chrome 124", "os_version": "macOS 14.4", "app_name": "acme.test", "sdk_version": "2.40.0"},
    {"platform": "web", "device": "Safari 17", "os_version": "macOS 14.3", "app_name": "acme.test", "sdk_version": "2.40.0"},
    {"platform": "web", "device": "Edge 123", "os_version": "Windows 11", "app_name": "acme.test", "sdk_version": "2.39.2"},
]
ENDED_REASONS = (
    ["device_ended"] * 45 + ["agent_ended"] * 40 + ["active_timeout"] * 8
    + ["pending_timeout"] * 5 + ["authorizing_timeout"] + ["limit_enforcement"]
)
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@dataclass
class SeedParams:
    sessions: int = 500
    active: int = 40
    devices: int = 30
    seed: int = 1
    busy: bool = False
    anchor_ms: int | None = None  # "now" for the data; None = the real now

    def resolved(self) -> "SeedParams":
        p = SeedParams(**asdict(self))
        if p.busy:
            p.active = max(p.active, BUSY_ACTIVE)
            p.sessions = max(p.sessions, 20_000)
        p.sessions = max(p.sessions, p.active)
        return p


# base64 of random bytes, with '+' and '/' mapped to letters so ids never start with '-' or hold '/'
_B64_TO_ALNUM = bytes.maketrans(b"+/", b"xz")


def _rid(rng: random.Random, n: int = 20) -> str:
    """n (a multiple of 4) letters and digits, fast: seeding 100k sessions makes 200k of these."""
    raw = rng.getrandbits(n * 6).to_bytes(n * 3 // 4, "big")
    return base64.b64encode(raw).translate(_B64_TO_ALNUM).decode()


# rng.randint/choice cost ~1 us each through _randbelow; at 100k sessions x ~15 draws that is seconds.
def _rint(rng: random.Random, lo: int, hi: int) -> int:
    return lo + int(rng.random() * (hi - lo + 1))


def _pick(rng: random.Random, seq):
    return seq[int(rng.random() * len(seq))]


def random_custom_data(rng: random.Random) -> dict:
    user = _rint(rng, 1, 5000)
    data = {
        "user_id": str(user),
        "user_email": f"{_pick(rng, FIRST)}.{user}@{_pick(rng, DOMAINS)}",
        "plan": _pick(rng, PLANS),
        "region": _pick(rng, REGIONS),
    }
    if rng.random() < 0.4:
        data["ticket"] = f"ZD-{_rint(rng, 10000, 99999)}"
    return data


def _grouped_times(rng: random.Random, n: int, lo: int, hi: int) -> list[int]:
    """n timestamps in [lo, hi], where about a third come in groups of 2-20 sharing one millisecond."""
    out: list[int] = []
    while len(out) < n:
        t = rng.randint(lo, hi)
        k = rng.randint(2, 20) if rng.random() < 0.08 else 1
        out.extend([t] * min(k, n - len(out)))
    return out


def seed_store(store: Store, params: SeedParams) -> SeedParams:
    """Fill `store` (already cleared) without emitting events. Returns the resolved parameters."""
    return _seed(store, params)


def _seed(store: Store, params: SeedParams) -> SeedParams:
    p = params.resolved()
    rng = random.Random(p.seed)
    anchor = p.anchor_ms if p.anchor_ms is not None else now_ms()
    agents = [store.agent_for(sub, name=name) for sub, name in AGENTS]
    refs = [a.ref() for a in agents]
    # one weighted draw = one index into a 100-slot table (rng.choices with weights is slow at 100k)
    owner_table = [i for i, w in enumerate(AGENT_WEIGHTS) for _ in range(w)]

    devices = []
    for _ in range(p.devices):
        info = dict(rng.choice(PLATFORMS))
        data = {
            "id": _rid(rng),
            "custom_data": random_custom_data(rng),
            "device": info,
            "connectable": rng.random() < 0.9,
            "last_active": None,
            "notification_token": _rid(rng, 32),
        }
        seen = anchor - int(rng.expovariate(1 / (6 * HOUR)))
        d = Device(data, max(seen, anchor - 30 * DAY), present=False)
        store.add_device(d)
        devices.append(d)

    n_active = p.active
    rest = p.sessions - n_active
    n_pending = min(rest, max(0, round(rest * 0.02)))
    n_authorizing = min(rest - n_pending, max(0, round(rest * 0.005)))
    n_ended = rest - n_pending - n_authorizing
    active_times = _grouped_times(rng, n_active, anchor - 3 * HOUR, anchor - 1000)
    ended_times = _grouped_times(rng, n_ended, anchor - 14 * DAY, anchor - 10 * MINUTE)
    codes: set[str] = set()

    def new_session(state: str, t_ms: int) -> None:
        owner_index = _pick(rng, owner_table)
        owner, owner_ref = agents[owner_index], refs[owner_index]
        dev = _pick(rng, devices) if devices else None
        while True:
            code = "%06d" % int(rng.random() * 1_000_000)
            if code not in codes:
                codes.add(code)
                break
        custom = dict(dev.data["custom_data"]) if dev and rng.random() < 0.7 else random_custom_data(rng)
        if rng.random() < 0.3:
            custom["ticket"] = f"ZD-{_rint(rng, 10000, 99999)}"
        # argument order is draw order: id before control_token, as the data set has always been drawn
        data = session_json(
            id=_rid(rng),
            code=code,
            state=state,
            custom_data=custom,
            agent=owner_ref,  # shared read-only dict: the store never edits agent refs in place
            agents=[owner_ref],
            created_ms=0,  # the times are laid out below
            device=dict(dev.data["device"]) if dev else None,
            control_token=_rid(rng, 32),
        )
        if rng.random() < 0.1:
            data["agents"].append(_pick(rng, refs))
        if state == "pending" or state == "authorizing":
            created = t_ms
            activated = None
            updated = created
            since = created
        else:
            activated = t_ms
            created = t_ms - _rint(rng, 3_000, 180_000)
            updated = activated + _rint(rng, 0, 60_000) if state == "active" else activated
            since = activated
        ended = None
        if state == "ended":
            reason = _pick(rng, ENDED_REASONS)
            if reason in ("pending_timeout", "authorizing_timeout"):
                created, activated = t_ms, None
                ended = created + (15 * MINUTE if reason == "pending_timeout" else 5 * MINUTE)
            else:
                ended = activated + _rint(rng, 45_000, 50 * MINUTE)
            data["ended_reason"] = reason
            data["recorded"] = activated is not None and rng.random() < 0.3
            updated = ended
        if state == "active":
            roll = rng.random()
            data["remote_control"] = "on" if roll < 0.2 else "requested" if roll < 0.25 else "off"
            data["full_device"] = "on" if rng.random() < 0.1 else "off"
            updated = min(updated, anchor)
        data["created"] = iso(created)
        data["updated"] = iso(updated)
        data["activated"] = iso(activated)
        data["ended"] = iso(ended)
        data["expires"] = iso(created + CODE_VALIDITY_MS)
        key = activated if activated is not None else created
        s = Session(data, key, owner.id, dev.id if dev else None, True, since)
        store.add_session(s)
        if state == "active" and dev is not None:
            dev.present = True  # seeded active sessions are connected, so demo numbers hold still
            dev.last_seen_ms = anchor

    for t in active_times:
        new_session("active", t)
    for t in ended_times:
        new_session("ended", t)
    for _ in range(n_pending):
        new_session("pending", anchor - rng.randint(1_000, 10 * MINUTE))
    for _ in range(n_authorizing):
        new_session("authorizing", anchor - rng.randint(1_000, 3 * MINUTE))
    for d in devices:
        if d.present and d.last_active_ms < anchor - 2 * MINUTE:
            d.set_last_active(anchor - rng.randint(0, 2 * MINUTE))
    return p
