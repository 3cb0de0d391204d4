"""JSON processing with untyped (pickled) records at the environment's default
parallelism (PyFlink's documented DataStream API)."""

import json

from pyflink.datastream import StreamExecutionEnvironment

EVENTS = [
    (1, '{"user": "ann", "clicks": 3, "device": {"os": "linux", "kind": "desktop"}}'),
    (2, '{"user": "bob", "clicks": 8, "device": {"os": "android", "kind": "phone"}}'),
    (3, '{"user": "cid", "clicks": 1, "device": {"os": "ios", "kind": "phone"}}'),
    (4, '{"user": "dee", "clicks": 5, "device": {"os": "linux", "kind": "laptop"}}'),
]


def parse(event):
    data = json.loads(event[1])
    data["clicks"] += 1
    return event[0], data


def on_phone(event):
    return event[1]["device"]["kind"] == "phone"


def main():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection(EVENTS).map(parse).filter(on_phone).print()
    env.execute()


if __name__ == "__main__":
    main()
