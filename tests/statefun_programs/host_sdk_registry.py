"""Run in the real SDK's virtualenv with nbstream on PYTHONPATH: nbstream's runtime hosts a
registry built with the real ``statefun`` SDK (``greeter.py`` imported with the SDK itself).
Prints one JSON line: where ``statefun`` came from, the egress rows of the greeter run with the
registry and with its RequestReplyHandler, and the error of a raising function."""

import importlib.util
import json
import sys
from pathlib import Path

import google.protobuf
import statefun

from nbstream import StreamExecutionEnvironment
from nbstream.statefun import RoutableMessage, StatefulFunctionDataStreamBuilder, egress_row

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("greeter_sdk", HERE / "greeter.py")
greeter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(greeter)
VISITS = json.loads(sys.argv[1])


def run(functions, ingress, egress_id):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    out = (StatefulFunctionDataStreamBuilder.builder("hosted")
           .with_data_stream_as_ingress(env.from_collection(ingress))
           .with_functions(functions).with_egress_id(egress_id).with_feedback_timeout(150).build(env))
    return [egress_row(e) for e in out.get_data_stream_for_egress_id(egress_id).execute_and_collect()]


visits = [RoutableMessage("example/person", name, {"at": i}, value_type=greeter.VISIT)
          for i, name in enumerate(VISITS)]
rows = run(greeter.functions, visits, greeter.GREETS)
handler_rows = run(statefun.RequestReplyHandler(greeter.functions), visits, greeter.GREETS)

broken = statefun.StatefulFunctions()


@broken.bind("example/broken")
def fails(context, message):
    raise RuntimeError(f"no luck for {context.address.id}")


try:
    run(broken, [RoutableMessage("example/broken", "x", 1)], "example/out")
    error = None
except Exception as exc:
    error = str(exc)
print(json.dumps({"statefun": statefun.__file__, "protobuf": google.protobuf.__version__,
                  "pandas_loaded": "pandas" in sys.modules,
                  "rows": [(r["key"], r["value"]) for r in rows],
                  "handler_rows": [(r["key"], r["value"]) for r in handler_rows], "error": error}))
