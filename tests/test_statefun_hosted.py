"""Registries built with the real SDK, hosted by nbstream's runtime through the SDK's own
``handle_async``. The SDK pins protobuf 3.20, so this runs in its virtualenv (made by
``statefun_peer``) with nbstream on PYTHONPATH: nbstream's core imports there without pandas,
pyarrow or cloudpickle, and its protocol code works on protobuf 3.20 next to the SDK's."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter

from nbstream.statefun import RequestReplyHandler, StatefulFunctionDataStreamBuilder
from nbstream.statefun.hosted import is_sdk_registry
from nbstream.statefun.protocol import KafkaProducerRecord
from statefun_peer import PROGRAMS, ROOT, sdk_python
from test_statefun_datastream import GREETER, VISITS, greets


def test_a_real_sdk_registry_runs_embedded_with_the_nbstream_registrys_egress(make_env):
    result = subprocess.run([str(sdk_python()), str(PROGRAMS / "host_sdk_registry.py"), json.dumps(VISITS)],
                            capture_output=True, text=True, timeout=300,
                            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "site-packages" in report["statefun"] and report["protobuf"].startswith("3.20")
    assert not report["pandas_loaded"]
    expected = Counter(greets(make_env(2)))  # nbstream's own registry, same module source
    assert len(expected) == 9
    assert Counter(map(tuple, report["rows"])) == expected
    assert Counter(map(tuple, report["handler_rows"])) == expected
    ann = [text for key, text in report["rows"] if key == "Ann"]
    assert ann == ["Hello Ann!", "Hello again Ann, #2", "Hello again Ann, #3"]
    assert ("stateful function example/broken (id 'x'), hosted from the StateFun SDK, raised: "
            "RuntimeError: no luck for x; no effect of its batch was applied") in report["error"]


def test_any_handler_with_handle_async_is_hosted_through_the_protocol(make_env):
    """The adapter is duck-typed: nbstream's own handler goes the same way as the SDK's."""
    handler = RequestReplyHandler(GREETER.functions)
    assert is_sdk_registry(handler) and not is_sdk_registry(GREETER.functions)
    from nbstream.statefun import RoutableMessage
    env = make_env(2)
    requests = env.from_collection([RoutableMessage("example/person", name, {"at": i}, value_type=GREETER.VISIT)
                                    for i, name in enumerate(VISITS)])
    out = (StatefulFunctionDataStreamBuilder.builder("hosted").with_data_stream_as_ingress(requests)
           .with_functions(handler).with_egress_id(GREETER.GREETS).with_feedback_timeout(150).build(env))
    rows = [KafkaProducerRecord.FromString(e.raw_value())
            for e in out.get_data_stream_for_egress_id(GREETER.GREETS).execute_and_collect()]
    assert Counter((r.key, r.value_bytes.decode()) for r in rows) == Counter(greets(make_env(2)))
