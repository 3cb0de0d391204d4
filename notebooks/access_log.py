"""A realistic web server access log, generated: six hours of a shop's traffic.

Lines are in the combined log format with the response time appended (as nginx's
``$request_time``), slightly out of order as several workers write them. The morning
brings a traffic ramp; between 08:10 and 08:25 the checkout backend degrades (slow
responses, 503s); a crawler sweeps the catalogue around 09:30.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "access.log")
>>> generate(path, hours=0.05, seed=1) > 0
True
>>> parse(open(path).readline())["method"] in ("GET", "POST")
True
"""

from __future__ import annotations

import math
import random
import re
from datetime import datetime, timezone
from typing import Any, Dict, Optional

START = datetime(2024, 3, 12, 6, 0, tzinfo=timezone.utc)
ENDPOINTS = [  # path, weight, method, median seconds, bytes
    ("/", 12, "GET", 0.030, 18_000),
    ("/search", 14, "GET", 0.120, 42_000),
    ("/product", 30, "GET", 0.060, 36_000),
    ("/api/cart", 12, "POST", 0.080, 900),
    ("/api/checkout", 4, "POST", 0.250, 1_200),
    ("/static/app.js", 18, "GET", 0.004, 310_000),
    ("/login", 5, "POST", 0.150, 2_000),
    ("/help", 2, "GET", 0.040, 12_000),
]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/124.0",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) Safari/605.1.15",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/122.0",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) Mobile/15E148"]
CRAWLER = "Mozilla/5.0 (compatible; ExampleBot/2.1)"
LINE = re.compile(r'(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<url>\S+) \S+" '
                  r'(?P<status>\d{3}) (?P<bytes>\d+) "[^"]*" "(?P<agent>[^"]*)" (?P<seconds>[\d.]+)')


def _rate(minute: float) -> float:
    """Requests per second at ``minute`` after 06:00: a morning ramp with some wobble."""
    ramp = 0.4 + 2.6 / (1 + math.exp(-(minute - 120) / 25))
    return ramp * (1 + 0.15 * math.sin(minute / 7))


def generate(path: str, hours: float = 6, seed: int = 7) -> int:
    """Write the log to ``path``; return the number of lines."""
    rng = random.Random(seed)
    weights = [e[1] for e in ENDPOINTS]
    events = []
    t = 0.0
    end = hours * 3600
    while t < end:
        minute = t / 60
        t += rng.expovariate(_rate(minute))
        path_, _, method, median, size = rng.choices(ENDPOINTS, weights)[0]
        agent, status = rng.choice(AGENTS), 200
        seconds = median * rng.lognormvariate(0, 0.5)
        url = path_
        if path_ == "/product":
            url = f"/product?id={int(rng.paretovariate(1.2)) % 5000}"
        if 130 <= minute < 145 and path_ == "/api/checkout":  # 08:10-08:25 incident
            seconds *= 6
            status = 503 if rng.random() < 0.4 else 200
        if 210 <= minute < 222 and rng.random() < 0.5:  # 09:30 crawler sweep
            agent, url, path_, method = CRAWLER, f"/product?id={rng.randrange(5000)}", "/product", "GET"
            seconds = 0.05 * rng.lognormvariate(0, 0.3)
        if status == 200 and rng.random() < 0.012:
            status = rng.choice([404, 404, 404, 400, 500])
        if status == 200 and method == "GET" and path_.startswith("/static") and rng.random() < 0.4:
            status, size = 304, 0
        ip = ".".join(map(str, (rng.choice([198, 203, 192]), rng.randrange(256),
                                rng.randrange(256), rng.randrange(1, 255))))
        written = t + abs(rng.gauss(0, 0.7))  # workers flush a little late, out of order
        events.append((written, t, ip, method, url, status, int(size * rng.uniform(0.8, 1.2)),
                       agent, seconds))
    events.sort()
    with open(path, "w", encoding="utf-8") as out:
        for _, at, ip, method, url, status, size, agent, seconds in events:
            stamp = datetime.fromtimestamp(START.timestamp() + at, tz=timezone.utc)
            out.write(f'{ip} - - [{stamp.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "{method} {url} '
                      f'HTTP/1.1" {status} {size} "-" "{agent}" {seconds:.3f}\n')
    return len(events)


def parse(line: str) -> Optional[Dict[str, Any]]:
    """One log line as a dict (``ts`` in epoch milliseconds), or None if it does not parse."""
    m = LINE.match(line)
    if m is None:
        return None
    stamp = datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z")
    return {"ts": int(stamp.timestamp() * 1000), "ip": m["ip"], "method": m["method"],
            "path": m["url"].split("?")[0], "status": int(m["status"]), "bytes": int(m["bytes"]),
            "agent": m["agent"], "seconds": float(m["seconds"])}
